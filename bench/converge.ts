/**
 * Convergence of a 50-replica `sleep` service: shoal vs real Docker Swarm on the same local engine,
 * run one after the other (both want port 2377), several rounds. Measured the same way for both: from
 * the `service create` call to `service ls` showing 50/50, polled every 100 ms through each one's API.
 * Prints one JSON object as its last line with per-round times, medians and the ratio.
 *
 *   node dist/bench/converge.js [--rounds 3] [--replicas 50]
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

const IMAGE = 'shoal-test/busybox:1';
const ROUNDS = intArg('rounds', 3);
const REPLICAS = intArg('replicas', 50);

async function converge(host: string, name: string): Promise<number> {
  const t0 = performance.now();
  docker(host, [
    'service',
    'create',
    '-d',
    '--no-resolve-image',
    '--name',
    name,
    '--replicas',
    String(REPLICAS),
    IMAGE,
    'sleep',
    '3600',
  ]);
  const t = await secondsUntil(`${name} converged`, t0, () =>
    docker(host, ['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Replicas}}'])
      .trim()
      .startsWith(`${REPLICAS}/${REPLICAS}`),
  );
  await drain(host, name);
  return t;
}

async function main(): Promise<void> {
  assertEngineNotInSwarm();
  const shoal: number[] = [];
  const swarm: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    shoal.push(await withShoal((host) => converge(host, `bench-shoal-${r}`)));
    console.error(`round ${r + 1}: shoal ${shoal.at(-1)!.toFixed(2)} s`);
    swarm.push(await withDockerSwarm((host) => converge(host, `bench-swarm-${r}`)));
    console.error(`round ${r + 1}: docker swarm ${swarm.at(-1)!.toFixed(2)} s`);
  }
  const result = {
    bench: 'converge',
    replicas: REPLICAS,
    rounds: ROUNDS,
    shoal_s: shoal.map(round3),
    docker_swarm_s: swarm.map(round3),
    median: { shoal_s: round3(median(shoal)), docker_swarm_s: round3(median(swarm)) },
    ratio: { shoal_over_docker_swarm: round3(median(shoal) / median(swarm)) },
  };
  console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
