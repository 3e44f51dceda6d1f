/** The deterministic simulator in CI: a bulk seed sweep, regression seeds, and proof the checks bite. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CORE_MUTATIONS, plant, WRAPPER_MUTATIONS, type Mutation } from './mutations.js';
import { NODE_MUTATIONS, NodeSimulation, nodeReplayCommand, type NodeMutation } from './node-sim.js';
import { SCENARIOS } from './scenarios.js';
import { replayCommand, Simulation } from './simulator.js';

const SWEEP = Number(process.env.SHOAL_SIM_SEEDS ?? 2500);
/** Whole RaftNodes on simulated disks cost ~0.2 s of CPU a seed: a smaller sweep. */
const NODE_SWEEP = Number(process.env.SHOAL_SIM_NODE_SEEDS ?? 200);
const NODE_STEPS = 1000;
const nodesFor = (seed: number): number => [3, 5, 7][seed % 3]!;

/** The first seed of the CI sweep at which the simulator reports a violation with `mutation` planted. */
function caughtAt(mutation: Mutation): { seed: number; error: string } | undefined {
  const undo = plant(mutation);
  try {
    for (let seed = 1; seed <= SWEEP; seed++) {
      const r = new Simulation({ seed, steps: 2000, nodes: nodesFor(seed), mutation }).run();
      if (!r.ok) return { seed, error: r.error ?? '' };
    }
    return undefined;
  } finally {
    undo();
  }
}

describe('raft simulation', { timeout: 900_000 }, () => {
  it(`passes ${SWEEP} seeds (3, 5 and 7 members, faults and membership changes drawn per seed)`, () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= SWEEP; seed++) {
      const opts = { seed, steps: 2000, nodes: nodesFor(seed) };
      const r = new Simulation(opts).run();
      if (!r.ok) failures.push(`seed ${seed}: ${r.error}\n  replay: ${replayCommand(opts)}`);
    }
    assert.deepEqual(failures, []);
  });

  it('regression: a pipeline whose appends were all dropped drains again (seed 84)', () => {
    const r = new Simulation({ seed: 84, steps: 2000, nodes: 3 }).run();
    assert.ok(r.ok, r.error);
  });

  it('long runs with many crashes stay safe', () => {
    for (const seed of [7, 1001, 4242]) {
      const r = new Simulation({ seed, steps: 8000, nodes: 5 }).run();
      assert.ok(r.ok, `seed ${seed}: ${r.error}`);
    }
  });

  it('scripted scenarios pass', () => {
    for (const [name, run] of Object.entries(SCENARIOS)) assert.equal(run(), undefined, name);
  });

  // Every planted bug must make the CI sweep fail; the seed that catches it is printed for replay.
  // One bug needs a situation random seeds (almost) never reach: a scripted scenario catches it.
  const needsScenario: Partial<Record<Mutation, keyof typeof SCENARIOS>> = {
    'follower-commit-to-last-index': 'staleSuffixCommit',
  };
  for (const mutation of [...CORE_MUTATIONS, ...WRAPPER_MUTATIONS]) {
    it(`catches a planted bug: ${mutation}`, () => {
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
      const hit = caughtAt(mutation);
      assert.ok(hit, `the sweep of ${SWEEP} seeds did not catch ${mutation}`);
      console.log(
        `${mutation}: caught at seed ${hit.seed} (${hit.error.slice(0, 100)}); replay: ${replayCommand({ seed: hit.seed, steps: 2000, nodes: nodesFor(hit.seed), mutation })}`,
      );
    });
  }
});

describe('raft node simulation (RaftNode on simulated disks)', { timeout: 900_000 }, () => {
  it(`passes ${NODE_SWEEP} seeds (disk faults, crashes, power loss, flipped bits, lost disks, membership changes)`, async () => {
    const failures: string[] = [];
    const t0 = performance.now();
    const totals: Record<string, number> = {};
    for (let seed = 1; seed <= NODE_SWEEP; seed++) {
      const opts = { seed, steps: NODE_STEPS, nodes: nodesFor(seed) };
      const r = await new NodeSimulation(opts).run();
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
      if (!r.ok) failures.push(`seed ${seed}: ${r.error}\n  replay: ${nodeReplayCommand(opts)}`);
    }
    console.log(
      `node sweep: ${NODE_SWEEP} seeds in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${JSON.stringify(totals)}`,
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
      assert.ok((totals[k] ?? 0) > 0, `no ${k} in the node sweep`);
  });

  for (const mutation of NODE_MUTATIONS) {
    it(`catches a planted bug in the node or its disk: ${mutation}`, async () => {
      let hit: { seed: number; error: string } | undefined;
      for (let seed = 1; seed <= NODE_SWEEP && !hit; seed++) {
        const r = await new NodeSimulation({ seed, steps: NODE_STEPS, nodes: nodesFor(seed), mutation }).run();
        if (!r.ok) hit = { seed, error: r.error ?? '' };
      }
      assert.ok(hit, `the node sweep of ${NODE_SWEEP} seeds did not catch ${mutation}`);
      const m: NodeMutation = mutation;
      console.log(
        `${m} (node): caught at seed ${hit.seed} (${hit.error.slice(0, 100)}); replay: ${nodeReplayCommand({ seed: hit.seed, steps: NODE_STEPS, nodes: nodesFor(hit.seed), mutation: m })}`,
      );
    });
  }
});
