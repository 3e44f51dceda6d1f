/**
 * Rollout policy timings, shoal vs real Docker Swarm on the same local engine, one after the other:
 *  - update: a 10-replica service moved to a new image with parallelism 2 and delay 1s, from the
 *    `service update` call until UpdateStatus is `completed`;
 *  - rollback: a 4-replica service (update and rollback parallelism 2, monitor 2s, failure action
 *    rollback) updated to an image that does not exist, from the call until UpdateStatus is
 *    `rollback_completed` (both wait one monitor window after the last rolled-back task runs).
 * The tasks exit on SIGTERM so neither side waits out a stop grace period. Polled every 100 ms
 * through each one's API. Prints one JSON object as its last line with medians and ratios.
 *
 *   node dist/bench/rollout.js [--rounds 3]
 */
import { assertEngineNotInSwarm, docker, drain, intArg, median, round3, secondsUntil, withDockerSwarm, withShoal } from './common.js';

const ROUNDS = intArg('rounds', 3);
const CMD = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];

async function create(host: string, name: string, replicas: number, flags: string[]): Promise<void> {
  docker(host, ['service', 'create', '-d', '--no-resolve-image', '--name', name, '--replicas', String(replicas), ...flags, 'shoal-test/busybox:1', ...CMD]);
  await secondsUntil(`${name} running`, performance.now(), () =>
    docker(host, ['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Replicas}}']).trim().startsWith(`${replicas}/${replicas}`),
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

async function rollingUpdate(host: string, name: string): Promise<number> {
  await create(host, name, 10, ['--update-parallelism', '2', '--update-delay', '1s']);
  return timedUpdate(host, name, ['--image', 'shoal-test/busybox:2'], 'completed');
}

async function autoRollback(host: string, name: string): Promise<number> {
  await create(host, name, 4, [
    ...['--update-parallelism', '2', '--update-monitor', '2s', '--update-failure-action', 'rollback'],
    ...['--rollback-parallelism', '2', '--rollback-monitor', '2s'],
  ]);
  return timedUpdate(host, name, ['--image', 'shoal-test/missing:1'], 'rollback_completed');
}

interface Round {
  update: number;
  rollback: number;
}

async function round(host: string, tag: string): Promise<Round> {
  return { update: await rollingUpdate(host, `bench-upd-${tag}`), rollback: await autoRollback(host, `bench-rb-${tag}`) };
}

async function main(): Promise<void> {
  assertEngineNotInSwarm();
  const shoal: Round[] = [];
  const swarm: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    shoal.push(await withShoal((host) => round(host, `shoal-${r}`)));
    console.error(`round ${r + 1}: shoal update ${shoal.at(-1)!.update.toFixed(2)} s, rollback ${shoal.at(-1)!.rollback.toFixed(2)} s`);
    swarm.push(await withDockerSwarm((host) => round(host, `swarm-${r}`)));
    console.error(`round ${r + 1}: docker swarm update ${swarm.at(-1)!.update.toFixed(2)} s, rollback ${swarm.at(-1)!.rollback.toFixed(2)} s`);
  }
  const med = (rs: Round[], k: keyof Round): number => round3(median(rs.map((x) => x[k])));
  const result = {
    bench: 'rollout',
    rounds: ROUNDS,
    update: '10 replicas, parallelism 2, delay 1s',
    rollback: '4 replicas, update/rollback parallelism 2 and monitor 2s, missing image',
    shoal: shoal.map((x) => ({ update_s: round3(x.update), rollback_s: round3(x.rollback) })),
    docker_swarm: swarm.map((x) => ({ update_s: round3(x.update), rollback_s: round3(x.rollback) })),
    median: {
      shoal: { update_s: med(shoal, 'update'), rollback_s: med(shoal, 'rollback') },
      docker_swarm: { update_s: med(swarm, 'update'), rollback_s: med(swarm, 'rollback') },
    },
    ratio: {
      update_shoal_over_docker_swarm: round3(med(shoal, 'update') / med(swarm, 'update')),
      rollback_shoal_over_docker_swarm: round3(med(shoal, 'rollback') / med(swarm, 'rollback')),
    },
  };
  console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
