import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobProgress, type JobWireTask } from './job-progress.js';

// As the Engine API sends them: a zero Index is omitted.
const task = (slot: number, state: string, iteration = 0, node = 'n1'): JobWireTask => ({
  Slot: slot,
  NodeID: node,
  DesiredState: 'complete',
  JobIteration: iteration ? { Index: iteration } : {},
  Status: { State: state },
});

describe('job progress display', () => {
  it('shows a replicated job as docker does, counting only the current run', () => {
    const service = {
      Spec: { Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 3 } } },
      JobStatus: { JobIteration: { Index: 1 } },
    };
    const p = jobProgress(service, [
      task(0, 'complete', 1),
      task(1, 'running', 1),
      task(0, 'complete', 0),
      task(1, 'complete', 0),
      task(2, 'complete', 0),
    ]);
    assert.equal(p.done, false);
    assert.match(p.lines[0]!, /^job progress: 1 out of 3 complete \[=+>\s+\]$/);
    assert.equal(p.lines[1], 'active tasks: 1 out of 2 tasks');
    assert.match(p.lines[2]!, /^1\/3: complete {2}\[={49}>\]$/);
    assert.match(p.lines[3]!, /^2\/3: running {3}\[/);
    assert.equal(p.lines[4], '3/3:');
    const done = jobProgress(service, [task(0, 'complete', 1), task(1, 'complete', 1), task(2, 'complete', 1)]);
    assert.equal(done.done, true);
    assert.equal(done.lines[1], 'active tasks: 0 out of 0 tasks');
  });

  it('shows a global job per node, and waits for its first tasks', () => {
    const service = { Spec: { Mode: { GlobalJob: {} } }, JobStatus: { JobIteration: {} } };
    assert.deepEqual(jobProgress(service, []).lines, ['job progress: waiting for tasks']);
    const p = jobProgress(service, [
      task(0, 'complete', 0, 'a'),
      task(0, 'failed', 0, 'b'),
      task(0, 'starting', 0, 'b'),
    ]);
    assert.equal(p.done, false);
    assert.match(p.lines[0]!, /^job progress: 1 out of 2 complete/);
  });
});
