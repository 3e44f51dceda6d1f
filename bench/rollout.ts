/**
 * Rollout policy timings, shoal vs real Docker Swarm on the same local engine, one after the other,
 * for two kinds of workload: one that exits on SIGTERM, and plain `sleep 3600`, which as PID 1 ignores
 * SIGTERM (like many real programs), so every stop takes the 10 s stop grace. A workload that exits at
 * once would hide any wait for a stopping task.
 *  - update: a 10-replica service moved to a new image with parallelism 2 and delay 1s, from the
 *    `service update` call until UpdateStatus is `completed`;
 *  - rollback (issue 12's scenario): 4 replicas, update parallelism 2, monitor 2s, failure action
 *    rollback, rollback parallelism 4, monitor 1s, updated to an image that does not exist, from the
 *    call until UpdateStatus is `rollback_completed`.
 * Polled every 100 ms through each one's API. Prints one JSON object as its last line with medians
 * and ratios per scenario and workload.
 *
 *   node dist/bench/rollout.js [--rounds 3]
 */
import {
  assertEngineNotInSwarm,
  docker,
  drain,
  intArg,
  median,
  round3,
  secondsUntil,
  withDockerSwarm,
  withShoal,
} from './common.js';

const ROUNDS = intArg('rounds', 3);
const WORKLOADS = {
  'exits-on-term': ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
  'ignores-term': ['sleep', '3600'],
} as const;
type Workload = keyof typeof WORKLOADS;
const KINDS = Object.keys(WORKLOADS) as Workload[];

async function create(
  host: string,
  name: string,
  replicas: number,
  flags: string[],
  workload: Workload,
): Promise<void> {
  docker(host, [
    'service',
    'create',
    '-d',
    '--no-resolve-image',
    '--name',
    name,
    '--replicas',
    String(replicas),
    ...flags,
    'shoal-test/busybox:1',
    ...WORKLOADS[workload],
  ]);
  await secondsUntil(`${name} running`, performance.now(), () =>
    docker(host, ['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Replicas}}'])
      .trim()
      .startsWith(`${replicas}/${replicas}`),
  );
}

const updateState = (host: string, name: string): string =>
  docker(host, ['service', 'inspect', '--format', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}', name]).trim();

async function timedUpdate(host: string, name: string, flags: string[], until: string): Promise<number> {
  const t0 = performance.now();
  docker(host, ['service', 'update', '-d', '--no-resolve-image', ...flags, name]);
  const t = await secondsUntil(`${name} ${until}`, t0, () => updateState(host, name) === until);
  await drain(host, name);
  return t;
}

async function rollingUpdate(host: string, name: string, workload: Workload): Promise<number> {
  await create(host, name, 10, ['--update-parallelism', '2', '--update-delay', '1s'], workload);
  return timedUpdate(host, name, ['--image', 'shoal-test/busybox:2'], 'completed');
}

async function autoRollback(host: string, name: string, workload: Workload): Promise<number> {
  await create(
    host,
    name,
    4,
    [
      ...['--update-parallelism', '2', '--update-monitor', '2s', '--update-failure-action', 'rollback'],
      ...['--rollback-parallelism', '4', '--rollback-monitor', '1s'],
    ],
    workload,
  );
  return timedUpdate(host, name, ['--image', 'shoal-test/missing:1'], 'rollback_completed');
}

type Times = Record<Workload, number>;
interface Round {
  update: Times;
  rollback: Times;
}
type Scenario = keyof Round;

async function round(host: string, tag: string): Promise<Round> {
  const r: Round = {
    update: { 'exits-on-term': 0, 'ignores-term': 0 },
    rollback: { 'exits-on-term': 0, 'ignores-term': 0 },
  };
  for (const w of KINDS) {
    r.update[w] = await rollingUpdate(host, `bench-upd-${w}-${tag}`, w);
    r.rollback[w] = await autoRollback(host, `bench-rb-${w}-${tag}`, w);
  }
  return r;
}

const show = (r: Round): string =>
  KINDS.map((w) => `${w}: update ${r.update[w].toFixed(2)} s, rollback ${r.rollback[w].toFixed(2)} s`).join('; ');

async function main(): Promise<void> {
  assertEngineNotInSwarm();
  const shoal: Round[] = [];
  const swarm: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    shoal.push(await withShoal((host) => round(host, `shoal-${r}`)));
    console.error(`round ${r + 1}: shoal ${show(shoal.at(-1)!)}`);
    swarm.push(await withDockerSwarm((host) => round(host, `swarm-${r}`)));
    console.error(`round ${r + 1}: docker swarm ${show(swarm.at(-1)!)}`);
  }
  const med = (rs: Round[], s: Scenario, w: Workload): number => round3(median(rs.map((x) => x[s][w])));
  const per = (f: (s: Scenario, w: Workload) => number): Record<Scenario, Times> => ({
    update: { 'exits-on-term': f('update', 'exits-on-term'), 'ignores-term': f('update', 'ignores-term') },
    rollback: { 'exits-on-term': f('rollback', 'exits-on-term'), 'ignores-term': f('rollback', 'ignores-term') },
  });
  const result = {
    bench: 'rollout',
    rounds: ROUNDS,
    update: '10 replicas, parallelism 2, delay 1s',
    rollback:
      '4 replicas, update parallelism 2, monitor 2s, failure action rollback; rollback parallelism 4, monitor 1s; missing image',
    workloads: {
      'exits-on-term': WORKLOADS['exits-on-term'].join(' '),
      'ignores-term': WORKLOADS['ignores-term'].join(' '),
    },
    shoal: shoal.map((x) => per((s, w) => round3(x[s][w]))),
    docker_swarm: swarm.map((x) => per((s, w) => round3(x[s][w]))),
    median: { shoal: per((s, w) => med(shoal, s, w)), docker_swarm: per((s, w) => med(swarm, s, w)) },
    ratio_shoal_over_docker_swarm: per((s, w) => round3(med(shoal, s, w) / med(swarm, s, w))),
  };
  console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
