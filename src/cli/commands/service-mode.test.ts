import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modeColumn, replicasColumn, serviceModeFromFlags } from './service-mode.js';

describe('service modes in the CLI', () => {
  it('builds job modes as the docker CLI does', () => {
    assert.deepEqual(serviceModeFromFlags({ mode: 'replicated-job', replicas: '5', maxConcurrent: '2' }), {
      ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 },
    });
    assert.deepEqual(serviceModeFromFlags({ mode: 'replicated-job', replicas: '3' }), {
      ReplicatedJob: { MaxConcurrent: 3, TotalCompletions: 3 },
    });
    assert.deepEqual(serviceModeFromFlags({ mode: 'replicated-job' }), { ReplicatedJob: {} });
    assert.deepEqual(serviceModeFromFlags({ mode: 'global-job' }), { GlobalJob: {} });
    assert.deepEqual(serviceModeFromFlags({}), { Replicated: { Replicas: 1 } });
    assert.throws(
      () => serviceModeFromFlags({ mode: 'global', maxConcurrent: '2' }),
      /max-concurrent can only be used with replicated-job mode/,
    );
    assert.throws(
      () => serviceModeFromFlags({ mode: 'global-job', replicas: '2' }),
      /replicas can only be used with replicated or replicated-job mode/,
    );
  });

  it('prints MODE and REPLICAS like docker service ls', () => {
    const rj = { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } };
    assert.equal(modeColumn(rj), 'replicated job');
    assert.equal(modeColumn({ GlobalJob: {} }), 'global job');
    assert.equal(
      replicasColumn(rj, { RunningTasks: 2, DesiredTasks: 2, CompletedTasks: 1 }, undefined),
      '2/2 (1/5 completed)',
    );
    assert.equal(
      replicasColumn({ GlobalJob: {} }, { RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 2 }, undefined),
      '1/1 (2/3 completed)',
    );
    assert.equal(
      replicasColumn({ Replicated: { Replicas: 3 } }, { RunningTasks: 3, DesiredTasks: 3 }, 1),
      '3/3 (max 1 per node)',
    );
  });
});
