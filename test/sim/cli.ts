/**
 * `npm run sim -- --seed S [--steps N] [--nodes 3|5|7] [--mutation NAME]` runs one seed of the
 * simulator (whole RaftNodes on simulated disks, node-sim.ts); `--seeds A..B` sweeps. A failing seed
 * prints the command that replays it; the last line is `N passed, N failed`. `--mutation` plants
 * one of the bugs in mutations.ts (a sweep with one should fail).
 */
import { isMutation } from './mutations.js';
import { NODE_STEPS, NodeSimulation, nodeReplayCommand, nodesFor } from './node-sim.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const steps = Number(arg('steps') ?? NODE_STEPS);
const nodesArg = arg('nodes');
const seedsArg = arg('seeds');
let seeds: number[];
if (seedsArg) {
  const [a, b] = seedsArg.split('..').map(Number);
  seeds = Array.from({ length: b! - a! + 1 }, (_, i) => a! + i);
} else {
  seeds = [Number(arg('seed') ?? 1)];
}
const mutation = arg('mutation');
if (mutation !== undefined && !isMutation(mutation)) throw new Error(`unknown mutation ${mutation}`);
let passed = 0;
let failed = 0;
const t0 = Date.now();
for (const seed of seeds) {
  const nodes = nodesArg ? Number(nodesArg) : nodesFor(seed);
  const opts = { seed, steps, nodes, ...(mutation ? { mutation } : {}) };
  const r = await new NodeSimulation(opts).run();
  if (r.ok) passed++;
  else {
    failed++;
    console.log(`seed ${seed} FAILED: ${r.error}\n  replay: ${nodeReplayCommand(opts)}`);
  }
  if (seeds.length === 1) console.log(JSON.stringify({ seed, nodes, ...r.stats }));
}
console.log(`swept ${seeds.length} seeds in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
