/**
 * `npm run sim -- --seed S --steps N [--nodes 3|5|7] [--mutation NAME]` runs one seed; `--seeds A..B`
 * sweeps. A failing seed prints the command that replays it; the last line is `N passed, N failed`.
 * `--mutation` plants one of the bugs in mutations.ts (a sweep with one should fail). `--node` runs
 * whole RaftNodes on simulated disks (node-sim.ts) instead of the bare core.
 */
import { isMutation, plant } from './mutations.js';
import { isNodeMutation, NodeSimulation, nodeReplayCommand } from './node-sim.js';
import { replayCommand, Simulation } from './simulator.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const nodeLevel = process.argv.includes('--node');
const steps = Number(arg('steps') ?? (nodeLevel ? 1000 : 2000));
const nodesArg = arg('nodes');
const seedsArg = arg('seeds');
let seeds: number[];
if (seedsArg) {
  const [a, b] = seedsArg.split('..').map(Number);
  seeds = Array.from({ length: b! - a! + 1 }, (_, i) => a! + i);
} else {
  seeds = [Number(arg('seed') ?? 1)];
}
const mutationArg = arg('mutation');
if (mutationArg !== undefined && !isMutation(mutationArg) && !(nodeLevel && isNodeMutation(mutationArg)))
  throw new Error(`unknown mutation ${mutationArg}`);
const mutation = mutationArg !== undefined && isMutation(mutationArg) ? mutationArg : undefined;
const nodeMutation = mutationArg !== undefined && isNodeMutation(mutationArg) ? mutationArg : mutation;
// The node simulation plants its own (core or node) bug for each run.
if (mutation && !nodeLevel) plant(mutation);
let passed = 0;
let failed = 0;
const t0 = Date.now();
for (const seed of seeds) {
  const nodes = nodesArg ? Number(nodesArg) : [3, 5, 7][seed % 3]!;
  let r: { ok: boolean; error?: string; stats: object };
  let replay: string;
  if (nodeLevel) {
    const opts = { seed, steps, nodes, ...(nodeMutation ? { mutation: nodeMutation } : {}) };
    r = await new NodeSimulation(opts).run();
    replay = nodeReplayCommand(opts);
  } else {
    const opts = { seed, steps, nodes, ...(mutation ? { mutation } : {}) };
    r = new Simulation(opts).run();
    replay = replayCommand(opts);
  }
  if (r.ok) passed++;
  else {
    failed++;
    console.log(`seed ${seed} FAILED: ${r.error}\n  replay: ${replay}`);
  }
  if (seeds.length === 1) console.log(JSON.stringify({ seed, nodes, ...r.stats }));
}
console.log(`swept ${seeds.length} seeds in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
