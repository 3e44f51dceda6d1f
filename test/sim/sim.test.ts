/** The deterministic simulator in CI: a bulk seed sweep, long runs, and proof the checks bite. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CORE_MUTATIONS, plant, WRAPPER_MUTATIONS, type Mutation } from './mutations.js';
import { NODE_STEPS, NodeSimulation, nodeReplayCommand, nodesFor, type NodeSimOptions } from './node-sim.js';
import { SCENARIOS } from './scenarios.js';

const SWEEP = Number(process.env.SHOAL_SIM_SEEDS ?? 2500);

async function run(o: NodeSimOptions): Promise<string | undefined> {
  const r = await new NodeSimulation(o).run();
  return r.ok ? undefined : `seed ${o.seed}: ${r.error}\n  replay: ${nodeReplayCommand(o)}`;
}

describe('raft simulation (whole RaftNodes on simulated disks)', { timeout: 1_800_000 }, () => {
  it(`passes ${SWEEP} seeds (3, 5 and 7 members; disk faults, crashes, power loss, flipped bits, lost disks, pauses, membership changes)`, async () => {
    const failures: string[] = [];
    const t0 = performance.now();
    const totals: Record<string, number> = {};
    for (let seed = 1; seed <= SWEEP; seed++) {
      const opts = { seed, steps: NODE_STEPS, nodes: nodesFor(seed) };
      const r = await new NodeSimulation(opts).run();
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
      if (!r.ok) failures.push(`seed ${seed}: ${r.error}\n  replay: ${nodeReplayCommand(opts)}`);
    }
    console.log(
      `sweep: ${SWEEP} seeds in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${JSON.stringify(totals)}`,
    );
    assert.deepEqual(failures, []);
    // The faults the sweep claims to cover did strike.
    for (const k of [
      'fatalStops',
      'refusedFlips',
      'lostDisks',
      'powerLosses',
      'writeEio',
      'writeEnospc',
      'fsyncEio',
      'torn',
      'zeroFilled',
      'confChanges',
      'pauses',
      'restores',
    ])
      assert.ok((totals[k] ?? 0) > 0, `no ${k} in the sweep`);
  });

  it('long runs with many crashes stay safe', async () => {
    for (const seed of [7, 1001, 4242]) {
      const failure = await run({ seed, steps: 4 * NODE_STEPS, nodes: 5 });
      assert.equal(failure, undefined);
    }
  });

  it('scripted scenarios pass', () => {
    for (const [name, scenario] of Object.entries(SCENARIOS)) assert.equal(scenario(), undefined, name);
  });

  // Every planted bug must make the CI sweep fail; the seed that catches it is printed for replay.
  // One bug needs a situation random seeds (almost) never reach: a scripted scenario catches it.
  const needsScenario: Partial<Record<Mutation, keyof typeof SCENARIOS>> = {
    'follower-commit-to-last-index': 'staleSuffixCommit',
  };
  for (const mutation of [...CORE_MUTATIONS, ...WRAPPER_MUTATIONS]) {
    it(`catches a planted bug: ${mutation}`, async () => {
      const scenario = needsScenario[mutation];
      if (scenario) {
        const undo = plant(mutation);
        try {
          assert.ok(SCENARIOS[scenario]!() !== undefined, `scenario ${scenario} did not catch ${mutation}`);
        } finally {
          undo();
        }
        return;
      }
      let caught: string | undefined;
      for (let seed = 1; seed <= SWEEP && !caught; seed++)
        caught = await run({ seed, steps: NODE_STEPS, nodes: nodesFor(seed), mutation });
      assert.ok(caught, `the sweep of ${SWEEP} seeds did not catch ${mutation}`);
      console.log(`${mutation}: caught at ${caught}`);
    });
  }
});
