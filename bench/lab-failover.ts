/**
 * Failover in a lab of 3 managers + 2 workers: shoal, and real Docker Swarm in the same kind of lab
 * (each host's own dockerd in swarm mode), one after the other, the same fault for both, default
 * settings. Each run: a 10-replica service spread over the hosts; cut the leader's link; time until a
 * write through a surviving manager succeeds; right after that, cut worker2's link too; time until
 * every task of both lost hosts runs elsewhere (from the worker's cut, and from the leader's cut);
 * heal, let the cluster settle, next run. Prints one line per run and, last, one JSON object with
 * medians, maxima and shoal/docker ratios.
 *
 *   node dist/bench/lab-failover.js [--runs 20] [--only shoal|docker] [--lab NAME]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DOCKER, ROOT, intArg, median, sleep } from './common.js';

interface LabHost {
  name: string;
  ip: string;
  run: string;
}

interface System {
  name: 'shoal' | 'docker';
  /** DOCKER_HOST of a host's control API (shoal's socket, or the host's dockerd). */
  api(h: LabHost): string;
}

const argv = process.argv.slice(2);
/** The lab's name (`--lab`), so that a second bench can run beside one in progress. */
const LAB = argv.includes('--lab') ? argv[argv.indexOf('--lab') + 1]! : 'bench-fo';
const SERVICE = 'web';
const REPLICAS = 10;

function lab(args: string[], allowFail = false): string {
  const r = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bin/shoal'), 'lab', args[0]!, '--name', LAB, ...args.slice(1)],
    { encoding: 'utf8', timeout: 600_000 },
  );
  if (r.status !== 0 && !allowFail) throw new Error(`shoal lab ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function hosts(): LabHost[] {
  const s = JSON.parse(readFileSync(`/run/shoal-lab/${LAB}/state.json`, 'utf8')) as { hosts: LabHost[] };
  return s.hosts;
}

function cli(host: string, a: string[], timeoutMs = 60_000): { code: number; out: string; err: string } {
  const r = spawnSync(DOCKER, a, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

function must(host: string, a: string[]): string {
  const r = cli(host, a, 300_000);
  if (r.code !== 0) throw new Error(`docker ${a.join(' ')}: ${r.err}`);
  return r.out;
}

const byName = (hs: LabHost[], n: string): LabHost => hs.find((h) => h.name === n)!;

function nodeRows(api: string): { host: string; status: string; manager: string }[] {
  const r = cli(api, ['node', 'ls', '--format', '{{.Hostname}}|{{.Status}}|{{.ManagerStatus}}'], 20_000);
  if (r.code !== 0) return [];
  return r.out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [host, status, manager] = l.split('|');
      return { host: host!, status: status!, manager: manager ?? '' };
    });
}

/** Hosts of running tasks (desired and current state running), as a manager reports them. */
function runningHosts(api: string): string[] | undefined {
  const r = cli(api, ['service', 'ps', SERVICE, '--format', '{{.Node}}|{{.DesiredState}}|{{.CurrentState}}'], 20_000);
  if (r.code !== 0) return undefined;
  return r.out
    .split('\n')
    .filter((l) => /\|Running\|Running/.test(l))
    .map((l) => l.split('|')[0]!);
}

function leaderOf(sys: System, hs: LabHost[], among: string[]): string | undefined {
  for (const m of among) {
    const row = nodeRows(sys.api(byName(hs, m))).find((r) => r.manager === 'Leader');
    if (row) return row.host;
  }
  return undefined;
}

async function until(what: string, fn: () => boolean, limitMs = 300_000, everyMs = 200): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Forms Docker's own swarm on the hosts' engines: init on manager1, join the others with tokens. */
function formDockerSwarm(sys: System, hs: LabHost[]): void {
  const first = hs[0]!;
  must(sys.api(first), ['swarm', 'init', '--advertise-addr', first.ip]);
  for (const h of hs.slice(1)) {
    const role = h.name.startsWith('manager') ? 'manager' : 'worker';
    const token = must(sys.api(first), ['swarm', 'join-token', '-q', role]).trim();
    must(sys.api(h), ['swarm', 'join', '--token', token, '--advertise-addr', h.ip, `${first.ip}:2377`]);
  }
}

interface RunResult {
  firstWriteS: number;
  workerTasksS: number;
  /** The same, read from the replacement tasks' own Running timestamps (no polling in it). */
  workerTasksStampS: number;
  leaderHostTasksS: number;
}

/** When the last of the running tasks on live hosts reached Running, by its status timestamp (epoch ms). */
function lastRunningAt(api: string, dead: Set<string>): number {
  const rows = must(api, [
    'service',
    'ps',
    SERVICE,
    '--no-trunc',
    '--filter',
    'desired-state=running',
    '--format',
    '{{.ID}}|{{.Node}}|{{.CurrentState}}',
  ])
    .split('\n')
    .map((l) => l.split('|'))
    .filter(([id, node, state]) => id && node && !dead.has(node) && state?.startsWith('Running'));
  const stamps = must(api, [
    'inspect',
    '--type',
    'task',
    '--format',
    '{{.Status.Timestamp}}',
    ...rows.map(([id]) => id!),
  ]);
  return Math.max(
    ...stamps
      .split('\n')
      .filter(Boolean)
      .map((t) => Date.parse(t)),
  );
}

/** `lab partition` prints when its cut took effect; that moment on performance.now()'s clock. */
function cutMoment(out: string): number {
  const m = / at (\S+Z)\s*$/.exec(out.trim());
  if (!m) throw new Error(`lab partition did not say when it cut: ${out}`);
  return performance.now() - (Date.now() - Date.parse(m[1]!));
}

/** A run whose cluster does not get there within this is recorded as not converged (and the lab rebuilt). */
const RUN_LIMIT_MS = 150_000;

async function settle(sys: System, hs: LabHost[]): Promise<void> {
  const managers = hs.filter((h) => h.name.startsWith('manager')).map((h) => h.name);
  await until(
    'a whole cluster',
    () => {
      const lead = leaderOf(sys, hs, managers);
      if (!lead) return false;
      const rows = nodeRows(sys.api(byName(hs, lead)));
      const up = rows.filter((r) => r.status === 'Ready');
      const mgrs = rows.filter((r) => r.manager === 'Leader' || r.manager === 'Reachable');
      return (
        up.length === hs.length &&
        rows.length === hs.length &&
        mgrs.length === managers.length &&
        (runningHosts(sys.api(byName(hs, lead)))?.length ?? 0) >= REPLICAS
      );
    },
    RUN_LIMIT_MS,
    1000,
  );
  // Let heartbeats and reconnections calm down before the next fault.
  await sleep(5000);
}

async function oneRun(sys: System, hs: LabHost[], i: number): Promise<RunResult> {
  const managers = hs.filter((h) => h.name.startsWith('manager')).map((h) => h.name);
  const lead = leaderOf(sys, hs, managers);
  if (!lead) throw new Error('no leader before the run');
  const survivor = managers.find((m) => m !== lead)!;
  const api = sys.api(byName(hs, survivor));
  const dead = new Set([lead, 'worker2']);
  // Times start at the moment the lab says the cut took effect (not when its command returns: the
  // other hosts' rules and the command's exit come after).
  const t0 = cutMoment(lab(['partition', lead]));
  // The same write for both: a label on the service, through a surviving manager, retried at once.
  for (let n = 0; ; n++) {
    if (cli(api, ['service', 'update', '-d', '--label-add', `run=${i}-${n}`, SERVICE], 60_000).code === 0) break;
    if (performance.now() - t0 > RUN_LIMIT_MS) throw new Error(`no write within ${RUN_LIMIT_MS / 1000} s`);
    await sleep(100);
  }
  const firstWriteS = (performance.now() - t0) / 1000;
  const t1 = cutMoment(lab(['partition', lead, 'worker2']));
  const t1Wall = Date.now() - (performance.now() - t1);
  let leaderHostTasksS = NaN;
  for (;;) {
    const r = runningHosts(api) ?? [];
    const notOnLeader = r.filter((h) => h !== lead).length;
    if (Number.isNaN(leaderHostTasksS) && notOnLeader >= REPLICAS) leaderHostTasksS = (performance.now() - t0) / 1000;
    if (r.filter((h) => !dead.has(h)).length >= REPLICAS) break;
    if (performance.now() - t1 > RUN_LIMIT_MS)
      throw new Error(`the lost hosts' tasks were not replaced within ${RUN_LIMIT_MS / 1000} s`);
    await sleep(250);
  }
  const workerTasksS = (performance.now() - t1) / 1000;
  const workerTasksStampS = (lastRunningAt(api, dead) - t1Wall) / 1000;
  if (Number.isNaN(leaderHostTasksS)) leaderHostTasksS = (performance.now() - t0) / 1000;
  lab(['heal']);
  await settle(sys, hs);
  return { firstWriteS, workerTasksS, workerTasksStampS, leaderHostTasksS };
}

async function formLab(sys: System): Promise<LabHost[]> {
  lab(['down'], true);
  lab(
    sys.name === 'shoal'
      ? ['up', '--managers', '3', '--workers', '2']
      : ['up', '--managers', '3', '--workers', '2', '--no-swarm'],
  );
  const hs = hosts();
  if (sys.name === 'docker') formDockerSwarm(sys, hs);
  must(sys.api(hs[0]!), [
    'service',
    'create',
    '-d',
    '--name',
    SERVICE,
    '--replicas',
    String(REPLICAS),
    'shoal-test/busybox:1',
    'sleep',
    '86400',
  ]);
  await settle(sys, hs);
  return hs;
}

/** Runs that did not converge are reported apart (and the lab is formed afresh after one). */
async function measure(sys: System, runs: number): Promise<{ done: RunResult[]; stuck: string[] }> {
  const done: RunResult[] = [];
  const stuck: string[] = [];
  try {
    let hs = await formLab(sys);
    for (let i = 0; i < runs; i++) {
      try {
        const r = await oneRun(sys, hs, i);
        done.push(r);
        process.stdout.write(
          `${sys.name} run ${i + 1}/${runs}: first write ${r.firstWriteS.toFixed(2)} s; dead worker's tasks replaced ${r.workerTasksS.toFixed(1)} s after its cut (${r.workerTasksStampS.toFixed(1)} s by the tasks' Running timestamps); lost leader host's tasks ${r.leaderHostTasksS.toFixed(1)} s after the leader's cut\n`,
        );
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        stuck.push(why);
        process.stdout.write(`${sys.name} run ${i + 1}/${runs}: did not converge: ${why}; forming the lab afresh\n`);
        hs = await formLab(sys);
      }
    }
    return { done, stuck };
  } finally {
    lab(['down'], true);
  }
}

function summary(m: { done: RunResult[]; stuck: string[] }): Record<string, number> {
  const rs = m.done;
  const pick = (k: keyof RunResult): number[] => rs.map((r) => r[k]);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return {
    runs: rs.length,
    notConverged: m.stuck.length,
    firstWriteMedianS: r2(median(pick('firstWriteS'))),
    firstWriteMaxS: r2(Math.max(...pick('firstWriteS'))),
    workerTasksMedianS: r2(median(pick('workerTasksS'))),
    workerTasksMaxS: r2(Math.max(...pick('workerTasksS'))),
    workerTasksStampMedianS: r2(median(pick('workerTasksStampS'))),
    workerTasksStampMaxS: r2(Math.max(...pick('workerTasksStampS'))),
    leaderHostTasksMedianS: r2(median(pick('leaderHostTasksS'))),
    leaderHostTasksMaxS: r2(Math.max(...pick('leaderHostTasksS'))),
  };
}

async function main(): Promise<void> {
  const runs = intArg('runs', 20);
  const args = process.argv.slice(2);
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  const shoal: System = { name: 'shoal', api: (h) => `unix://${h.run}/shoal.sock` };
  const dockerSys: System = { name: 'docker', api: (h) => `unix://${h.run}/docker.sock` };
  const result: Record<string, unknown> = { runs };
  let s: Record<string, number> | undefined;
  let d: Record<string, number> | undefined;
  if (only !== 'docker') result.shoal = s = summary(await measure(shoal, runs));
  if (only !== 'shoal') result.docker = d = summary(await measure(dockerSys, runs));
  if (s && d) {
    result.ratio = {
      firstWrite: Math.round((s.firstWriteMedianS! / d.firstWriteMedianS!) * 1000) / 1000,
      workerTasks: Math.round((s.workerTasksMedianS! / d.workerTasksMedianS!) * 1000) / 1000,
      leaderHostTasks: Math.round((s.leaderHostTasksMedianS! / d.leaderHostTasksMedianS!) * 1000) / 1000,
    };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e instanceof Error ? e.stack : e)}\n`);
  lab(['down'], true);
  process.exit(1);
});
