/**
 * The data path in a `shoal lab up --managers 1 --workers 2`, in one run:
 *
 * - HTTP requests/s through the routing mesh from a host WITHOUT a task (worker2 asks its own address
 *   on the published port; the mesh DNATs every connection over the ingress overlay to the task on
 *   worker1) vs straight to the same task (worker2 asks worker1's host-mode published port: one DNAT
 *   on worker1, no mesh, no hop between hosts). Also the mesh entered on the task's own host. The server
 *   is `shoal-test/httpd:1` (busybox httpd: one fork per connection, no keep-alive, so every request
 *   is a new flow through the mesh's NAT — the mesh's worst case); the client is `wrk` in worker2's
 *   network namespace. Goal: mesh ≥ 0.8 × direct.
 * - TCP throughput (iperf3) between two tasks on different hosts over a user overlay (VXLAN) vs the
 *   lab's underlay (the hosts' own eth0) between the same hosts. iperf3 runs inside the task
 *   containers' network namespaces (`nsenter -t PID -n`): the image needs no iperf3. Goal ≥ 0.7×.
 *
 * Each measurement is repeated (`--runs`, order alternated per round) and the median is compared; the
 * raw runs are in the output. Docker Swarm's own mesh is checked once on the local engine (see
 * `dockerSwarmMeshAnswers`; `--no-docker-check` skips it): on this kernel (no IPVS) it does not answer.
 *
 *   node dist/bench/mesh.js [--runs 5] [--seconds 10] [--lab NAME] [--no-docker-check]
 */
import { spawn, spawnSync } from 'node:child_process';
import { loadavg, release } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { ROOT, docker, intArg, median, round3, sleep } from './common.js';
import { dockerSwarmMeshAnswers } from './mesh-docker.js';

interface LabHost {
  name: string;
  ip: string;
  netns: string;
  run: string;
}

const argv = process.argv.slice(2);
const LAB = argv.includes('--lab') ? argv[argv.indexOf('--lab') + 1]! : 'bench-mesh';
const RUNS = intArg('runs', 5);
const SECONDS = intArg('seconds', 10);
const MESH_PORT = 8080;
const HOST_PORT = 8081;

function lab(args: string[], allowFail = false): string {
  const r = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bin/shoal'), 'lab', args[0]!, '--name', LAB, ...args.slice(1)],
    { encoding: 'utf8', timeout: 600_000 },
  );
  if (r.status !== 0 && !allowFail) throw new Error(`shoal lab ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function labHosts(): Record<string, LabHost> {
  const s = JSON.parse(readFileSync(`/run/shoal-lab/${LAB}/state.json`, 'utf8')) as { hosts: LabHost[] };
  return Object.fromEntries(s.hosts.map((h) => [h.name, h]));
}

/** Runs a command in a lab host's network namespace (no shell). */
function inHost(h: LabHost, cmd: string[], timeoutMs = 120_000): string {
  const r = spawnSync('nsenter', [`--net=/var/run/netns/${h.netns}`, ...cmd], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${h.name}: ${cmd.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

const shoalApi = (h: LabHost): string => `unix://${h.run}/shoal.sock`;
const engineApi = (h: LabHost): string => `unix://${h.run}/docker.sock`;

async function until(what: string, check: () => boolean, limitMs = 120_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(250);
  }
}

function running(api: string, service: string): number {
  return docker(api, ['service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.CurrentState}}'])
    .split('\n')
    .filter((l) => l.startsWith('Running')).length;
}

/** The PID and overlay address of the one task of `service` on host `h`. */
function taskOn(h: LabHost, service: string): { pid: number; ip: string } {
  const id = docker(engineApi(h), ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`]).trim();
  if (!id || id.includes('\n')) throw new Error(`${h.name}: expected one ${service} task, found "${id}"`);
  const [pid, ip] = docker(engineApi(h), [
    'inspect',
    '--format',
    '{{.State.Pid}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
    id,
  ])
    .trim()
    .split(' ');
  return { pid: Number(pid), ip: ip! };
}

interface WrkRun {
  rps: number;
  requests: number;
  socketErrors: number;
  non2xx: number;
  latencyAvg: string;
}

/** One wrk run from `client`'s network namespace; every request must have succeeded. */
function wrk(client: LabHost, url: string): WrkRun {
  const out = inHost(client, ['wrk', '-t1', '-c16', `-d${SECONDS}s`, url], (SECONDS + 60) * 1000);
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const run: WrkRun = {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    socketErrors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    latencyAvg: /Latency\s+(\S+)/.exec(out)?.[1] ?? '?',
  };
  if (run.requests === 0) throw new Error(`wrk ${url} from ${client.name} made no request:\n${out}`);
  return run;
}

interface IperfRun {
  gbps: number;
  retransmits: number;
}

/**
 * One iperf3 TCP test: a one-off server entered with `serverNs`, a client entered with `clientNs`
 * (nsenter arguments that pick a network namespace). The server is our child and always reaped.
 */
async function iperf(serverNs: string[], clientNs: string[], serverIp: string): Promise<IperfRun> {
  const server = spawn('nsenter', [...serverNs, 'iperf3', '-s', '-1', '--forceflush', '-p', '5201'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => server.once('exit', () => r()));
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      server.stdout.on('data', (c: Buffer) => {
        seen += c.toString();
        if (seen.includes('Server listening')) resolve();
      });
      server.once('exit', (code) => reject(new Error(`iperf3 server exited (${code}): ${seen}`)));
      setTimeout(() => reject(new Error(`iperf3 server not listening after 15 s: ${seen}`)), 15_000).unref();
    });
    const r = spawnSync('nsenter', [...clientNs, 'iperf3', '-c', serverIp, '-p', '5201', '-t', `${SECONDS}`, '-J'], {
      encoding: 'utf8',
      timeout: (SECONDS + 60) * 1000,
    });
    if (r.status !== 0) throw new Error(`iperf3 client: ${r.stdout}${r.stderr}`);
    const j = JSON.parse(r.stdout) as {
      end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } };
    };
    return { gbps: round3(j.end.sum_received.bits_per_second / 1e9), retransmits: j.end.sum_sent.retransmits ?? 0 };
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await exited;
  }
}

/** eth0's MTU in the namespace `nsArgs` picks (sysfs would show the host's, so ask `ip`). */
function mtu(nsArgs: string[]): number {
  const out = spawnSync('nsenter', [...nsArgs, 'ip', '-o', 'link', 'show', 'eth0'], { encoding: 'utf8' }).stdout;
  return Number(/ mtu (\d+)/.exec(out)?.[1] ?? NaN);
}

async function main(): Promise<void> {
  for (const tool of ['wrk', 'iperf3', 'nsenter']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed`);
  }
  const loadBefore = loadavg().map(round3);
  const dockerCheck = argv.includes('--no-docker-check') ? undefined : await dockerSwarmMeshAnswers();
  lab(['up', '--managers', '1', '--workers', '2']);
  try {
    const hs = labHosts();
    const [m1, w1, w2] = [hs.manager1!, hs.worker1!, hs.worker2!];
    const api = shoalApi(m1);
    // One HTTP task on worker1, published through the mesh (8080) and in host mode (8081).
    docker(api, [
      'service',
      'create',
      '-d',
      '--name',
      'web',
      '--constraint',
      'node.hostname==worker1',
      '--publish',
      `${MESH_PORT}:80`,
      '--publish',
      `mode=host,published=${HOST_PORT},target=80`,
      'shoal-test/httpd:1',
    ]);
    // Two idle tasks on a user overlay, one per worker, for iperf3.
    docker(api, ['network', 'create', '-d', 'overlay', 'benchnet']);
    docker(api, [
      'service',
      'create',
      '-d',
      '--name',
      'pair',
      '--replicas',
      '2',
      '--constraint',
      'node.role==worker',
      '--replicas-max-per-node',
      '1',
      '--network',
      'benchnet',
      'shoal-test/busybox:1',
      'sleep',
      '1000000',
    ]);
    await until('web and pair running', () => running(api, 'web') === 1 && running(api, 'pair') === 2);
    const urls = {
      meshNoTask: `http://${w2.ip}:${MESH_PORT}/`,
      direct: `http://${w1.ip}:${HOST_PORT}/`,
      meshTaskHost: `http://${w1.ip}:${MESH_PORT}/`,
    };
    await until('every URL answering from worker2', () =>
      Object.values(urls).every(
        (u) => spawnSync('nsenter', [`--net=/var/run/netns/${w2.netns}`, 'wget', '-qO-', '-T', '2', u]).status === 0,
      ),
    );
    const a = taskOn(w1, 'pair');
    const b = taskOn(w2, 'pair');
    const http: Record<keyof typeof urls, WrkRun[]> = { meshNoTask: [], direct: [], meshTaskHost: [] };
    const tcp: { overlay: IperfRun[]; underlay: IperfRun[] } = { overlay: [], underlay: [] };
    const overlayRun = (): Promise<IperfRun> => iperf([`-t${a.pid}`, '-n'], [`-t${b.pid}`, '-n'], a.ip);
    const underlayRun = (): Promise<IperfRun> =>
      iperf([`--net=/var/run/netns/${w1.netns}`], [`--net=/var/run/netns/${w2.netns}`], w1.ip);
    for (let i = 0; i < RUNS; i++) {
      // Alternate the order so that a slow spell of this shared machine does not favour one side.
      const keys = (i % 2 ? ['direct', 'meshNoTask', 'meshTaskHost'] : ['meshNoTask', 'direct', 'meshTaskHost']) as (
        'meshNoTask' | 'direct' | 'meshTaskHost'
      )[];
      for (const k of keys) http[k].push(wrk(w2, urls[k]));
      if (i % 2) {
        tcp.underlay.push(await underlayRun());
        tcp.overlay.push(await overlayRun());
      } else {
        tcp.overlay.push(await overlayRun());
        tcp.underlay.push(await underlayRun());
      }
      const last = (xs: { rps?: number; gbps?: number }[]): number =>
        xs[xs.length - 1]!.rps ?? xs[xs.length - 1]!.gbps!;
      console.error(
        `run ${i + 1}/${RUNS}: rps mesh(no task) ${last(http.meshNoTask)} direct ${last(http.direct)} mesh(task host) ${last(http.meshTaskHost)}; Gbit/s overlay ${last(tcp.overlay)} underlay ${last(tcp.underlay)}`,
      );
    }
    const med = {
      rpsMeshNoTask: round3(median(http.meshNoTask.map((r) => r.rps))),
      rpsDirect: round3(median(http.direct.map((r) => r.rps))),
      rpsMeshTaskHost: round3(median(http.meshTaskHost.map((r) => r.rps))),
      gbpsOverlay: round3(median(tcp.overlay.map((r) => r.gbps))),
      gbpsUnderlay: round3(median(tcp.underlay.map((r) => r.gbps))),
    };
    const ratios = {
      meshNoTaskVsDirect: round3(med.rpsMeshNoTask / med.rpsDirect),
      meshTaskHostVsDirect: round3(med.rpsMeshTaskHost / med.rpsDirect),
      overlayVsUnderlay: round3(med.gbpsOverlay / med.gbpsUnderlay),
    };
    // Each round's two sides ran back to back: the median of the per-round ratios cancels most of the
    // load swings of this shared machine, which the ratio of two independent medians does not.
    const paired = (a: number[], b: number[]): number => round3(median(a.map((x, i) => x / b[i]!)));
    const pairedRatios = {
      meshNoTaskVsDirect: paired(
        http.meshNoTask.map((r) => r.rps),
        http.direct.map((r) => r.rps),
      ),
      meshTaskHostVsDirect: paired(
        http.meshTaskHost.map((r) => r.rps),
        http.direct.map((r) => r.rps),
      ),
      overlayVsUnderlay: paired(
        tcp.overlay.map((r) => r.gbps),
        tcp.underlay.map((r) => r.gbps),
      ),
    };
    const result = {
      bench: 'mesh',
      lab: `${LAB}: 1 manager + 2 workers (network namespaces on one machine, veth + bridge underlay)`,
      machine: {
        kernel: release(),
        cpus: spawnSync('nproc', { encoding: 'utf8' }).stdout.trim(),
        loadBefore,
      },
      workload: {
        http: `shoal-test/httpd:1 (busybox httpd, a fork per connection, no keep-alive) on worker1; wrk -t1 -c16 -d${SECONDS}s from worker2's netns`,
        urls: {
          meshNoTask: `${urls.meshNoTask} (worker2 has no task: mesh DNAT + SNAT, ingress overlay to worker1)`,
          direct: `${urls.direct} (worker1's host-mode published port: a DNAT on worker1 straight to the task, no mesh, no hop between hosts)`,
          meshTaskHost: `${urls.meshTaskHost} (the mesh entered on the task's own host)`,
        },
        tcp: `iperf3 -t ${SECONDS}, one TCP stream, task on worker2 -> task on worker1 over overlay benchnet (${b.ip} -> ${a.ip}) vs worker2 -> worker1 host netns (${w2.ip} -> ${w1.ip})`,
        mtu: { overlayTask: mtu([`-t${a.pid}`, '-n']), underlay: mtu([`--net=/var/run/netns/${w1.netns}`]) },
      },
      runs: { http, tcp },
      median: med,
      ratios,
      pairedRatios,
      goals: {
        meshNoTaskVsDirect: {
          goal: 0.8,
          metByRatioOfMedians: ratios.meshNoTaskVsDirect >= 0.8,
          metByPairedRatio: pairedRatios.meshNoTaskVsDirect >= 0.8,
        },
        overlayVsUnderlay: {
          goal: 0.7,
          metByRatioOfMedians: ratios.overlayVsUnderlay >= 0.7,
          metByPairedRatio: pairedRatios.overlayVsUnderlay >= 0.7,
        },
      },
      dockerSwarmMesh: dockerCheck ?? 'not checked (--no-docker-check)',
      loadAfter: loadavg().map(round3),
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    lab(['down'], true);
  }
}

// An interrupted bench still removes its lab.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    lab(['down'], true);
    process.exit(130);
  });
}
await main();
