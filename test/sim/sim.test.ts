/** The deterministic simulator in CI: a bulk seed sweep, regression seeds, and proof the checks bite. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaftLog } from '../../src/raft/log.js';
import { replayCommand, Simulation, type SimOptions } from './simulator.js';

const SWEEP = Number(process.env.SHOAL_SIM_SEEDS ?? 2500);

/** Whether some seed up to `maxSeed` makes the simulator report a violation (for mutation tests). */
function detected(maxSeed: number, opts: Omit<SimOptions, 'seed' | 'steps'>): boolean {
  for (let seed = 1; seed <= maxSeed; seed++) if (!new Simulation({ seed, steps: 2000, ...opts }).run().ok) return true;
  return false;
}

describe('raft simulation', { timeout: 600_000 }, () => {
  it(`passes ${SWEEP} seeds (3, 5 and 7 members, faults drawn per seed)`, () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= SWEEP; seed++) {
      const opts = { seed, steps: 2000, nodes: [3, 5, 7][seed % 3]! };
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

  it('catches a broken Raft: votes granted without the up-to-date check lose committed entries', () => {
    const original = RaftLog.prototype.isUpToDate;
    RaftLog.prototype.isUpToDate = () => true;
    try {
      assert.ok(detected(200, { nodes: 3 }), 'the invariants must detect the bug');
    } finally {
      RaftLog.prototype.isUpToDate = original;
    }
  });

  it('catches a broken InstallSnapshot: a follower that keeps its stale log under the snapshot', () => {
    const original = RaftLog.prototype.resetTo;
    RaftLog.prototype.resetTo = function (this: RaftLog, index: number, term: number): void {
      // Bug: the boundary moves but the old entries stay, now misnumbered.
      const self = this as unknown as { offset: number; offsetTerm: number };
      self.offset = index;
      self.offsetTerm = term;
    };
    try {
      assert.ok(detected(300, { nodes: 5 }), 'the invariants must detect the bug');
    } finally {
      RaftLog.prototype.resetTo = original;
    }
  });

  it('catches a broken wrapper: messages sent before the Ready is synced lose votes or entries in a crash', () => {
    assert.ok(detected(300, { nodes: 3, unsafeSendBeforeSync: true }), 'the invariants must detect the bug');
  });
});
