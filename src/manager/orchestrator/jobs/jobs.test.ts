import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { isTerminal } from '../../../store/types.js';
import type { ServiceSpec, TaskObject } from '../../../store/types.js';
import { Harness } from '../../testing/harness.js';

let h: Harness;
beforeEach(async () => {
  h = new Harness();
  await h.start();
});
afterEach(() => h.stop());

const job = (
  name: string,
  image: string,
  mode: ServiceSpec['Mode'],
  extra: Partial<ServiceSpec> = {},
): Partial<ServiceSpec> & { Name: string } => ({
  Name: name,
  Mode: mode,
  TaskTemplate: { ContainerSpec: { Image: image } },
  ...extra,
});
const complete = (tasks: TaskObject[]): TaskObject[] => tasks.filter((t) => t.Status.State === 'complete');
const runningNow = (tasks: TaskObject[]): number => tasks.filter((t) => t.Status.State === 'running').length;

describe('replicated jobs', () => {
  it('runs TotalCompletions tasks to completion, never more than MaxConcurrent at once, one slot each', async () => {
    await h.addNode({ hostname: 'n1' });
    h.completeAfter.set('work:1', 1000);
    const id = await h.createService(
      job('batch', 'work:1', { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } }),
    );
    let peak = 0;
    for (let i = 0; i < 100; i++) {
      await h.run(100);
      peak = Math.max(peak, runningNow(h.tasks(id)));
    }
    const tasks = h.tasks(id);
    assert.equal(peak, 2, 'two at a time');
    assert.equal(tasks.length, 5, 'no task beyond the five completions');
    assert.equal(complete(tasks).length, 5);
    assert.deepEqual(tasks.map((t) => t.Slot).sort(), [0, 1, 2, 3, 4], 'slots 0..4, as swarmkit numbers them');
    assert.ok(tasks.every((t) => t.DesiredState === 'complete' && t.JobIteration?.Index === 0));
    assert.deepEqual(await h.control.serviceStatus(id), { RunningTasks: 0, DesiredTasks: 2, CompletedTasks: 5 });
  });

  it('reports running/desired/completed while it runs, as `service ls` shows N/M (K/T completed)', async () => {
    await h.addNode({ hostname: 'n1' });
    h.completeAfter.set('work:1', 1000);
    const id = await h.createService(
      job('batch', 'work:1', { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 3 } }),
    );
    await h.run(1500);
    const st = await h.control.serviceStatus(id);
    assert.equal(st.DesiredTasks, 2);
    assert.equal(st.RunningTasks + st.CompletedTasks, 3, `one of three left to run: ${JSON.stringify(st)}`);
  });

  it('fills in the Engine API defaults: MaxConcurrent 1, TotalCompletions = MaxConcurrent', async () => {
    await h.addNode({ hostname: 'n1' });
    h.failingImages.set('ok:1', 0);
    const one = await h.createService(job('one', 'ok:1', { ReplicatedJob: {} }));
    const three = await h.createService(job('three', 'ok:1', { ReplicatedJob: { MaxConcurrent: 3 } }));
    assert.deepEqual(h.service(one).Spec.Mode, { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } });
    assert.deepEqual(h.service(three).Spec.Mode, { ReplicatedJob: { MaxConcurrent: 3, TotalCompletions: 3 } });
    assert.deepEqual(h.service(one).JobStatus, { JobIteration: { Index: 0 }, LastExecution: h.service(one).CreatedAt });
    await h.run(2000);
    assert.equal(complete(h.tasks(one)).length, 1);
    assert.equal(complete(h.tasks(three)).length, 3);
  });

  it("refuses negative limits with swarmkit's messages", async () => {
    await assert.rejects(
      h.createService(job('neg', 'ok:1', { ReplicatedJob: { MaxConcurrent: -1 } })),
      /Maximum concurrent jobs must not be negative/,
    );
    await assert.rejects(
      h.createService(job('neg', 'ok:1', { ReplicatedJob: { TotalCompletions: -2 } })),
      /Total completed jobs must not be negative/,
    );
  });

  it('retries a failed task in its slot after the restart delay; a completed task is never restarted', async () => {
    await h.addNode({ hostname: 'n1' });
    h.completeAfter.set('work:1', 3000);
    const id = await h.createService(
      job('batch', 'work:1', { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } }),
    );
    await h.run(500);
    const [first] = h.tasks(id);
    await h.setTaskState(first!.ID, 'failed', {
      Err: 'task: non-zero exit (1)',
      ContainerStatus: { ContainerID: 'c', PID: 0, ExitCode: 1 },
    });
    await h.run(4000);
    assert.equal(h.tasks(id).length, 2, 'one retry, and no second task while it waits');
    const retry = h.tasks(id).find((t) => t.ID !== first!.ID)!;
    assert.equal(retry.Slot, first!.Slot);
    assert.equal(retry.Restarts?.PreviousTaskID, first!.ID);
    assert.equal(
      retry.Status.State === 'running' || retry.Status.State === 'complete',
      false,
      'the 5 s default restart delay holds it',
    );
    await h.run(6000);
    const done = h.tasks(id).find((t) => t.ID === retry.ID)!;
    assert.equal(done.Status.State, 'complete');
    assert.equal(done.DesiredState, 'complete');
    await h.run(10_000);
    assert.equal(h.tasks(id).length, 2, 'restart condition any is on-failure for jobs');
  });

  it('gives up a slot once the restart policy allows no more attempts', async () => {
    await h.addNode({ hostname: 'n1' });
    h.failingImages.set('bad:1', 1);
    const id = await h.createService(
      job(
        'batch',
        'bad:1',
        { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 2 } },
        {
          TaskTemplate: {
            ContainerSpec: { Image: 'bad:1' },
            RestartPolicy: { Condition: 'on-failure', Delay: 0, MaxAttempts: 2 },
          },
        },
      ),
    );
    await h.run(10_000);
    const tasks = h.tasks(id);
    // Slot 0: first run + 2 retries, given up; then slot 1 the same. Nothing after that.
    assert.deepEqual(tasks.map((t) => t.Slot).sort(), [0, 0, 0, 1, 1, 1]);
    assert.ok(tasks.every((t) => t.Status.State === 'failed'));
    assert.deepEqual(await h.control.serviceStatus(id), { RunningTasks: 0, DesiredTasks: 1, CompletedTasks: 0 });
  });

  it('runs again on every update (service update --force): a new JobIteration, old runs stopped or kept as history', async () => {
    await h.addNode({ hostname: 'n1' });
    h.completeAfter.set('work:1', 500);
    h.completeAfter.set('slow:1', 60_000);
    const id = await h.createService(
      job('batch', 'work:1', { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 2 } }),
    );
    await h.run(3000);
    const created = h.service(id).JobStatus!.LastExecution;
    await h.updateService(id, (s) => ({ ...s, TaskTemplate: { ...s.TaskTemplate, ForceUpdate: 1 } }));
    assert.equal(h.service(id).JobStatus?.JobIteration.Index, 1);
    assert.ok(h.service(id).JobStatus!.LastExecution > created);
    await h.run(3000);
    const tasks = h.tasks(id);
    assert.equal(complete(tasks).length, 4, 'two runs of two completions');
    assert.equal(complete(tasks.filter((t) => t.JobIteration?.Index === 1)).length, 2);
    assert.equal((await h.control.serviceStatus(id)).CompletedTasks, 2, 'only the current run counts');
    // A run still in progress when the next starts is stopped.
    await h.updateService(id, (s) => ({
      ...s,
      TaskTemplate: { ...s.TaskTemplate, ContainerSpec: { Image: 'slow:1' } },
    }));
    await h.run(1000);
    assert.equal(h.tasks(id).filter((t) => t.JobIteration?.Index === 2 && t.Status.State === 'running').length, 2);
    await h.updateService(id, (s) => ({ ...s, TaskTemplate: { ...s.TaskTemplate, ForceUpdate: 2 } }));
    await h.run(1000);
    const third = h.store.view((tx) => tx.all('task')).filter((t) => t.JobIteration?.Index === 2);
    assert.ok(
      third.every((t) => t.DesiredState === 'remove'),
      'the interrupted run is removed',
    );
    assert.equal(h.tasks(id).filter((t) => t.JobIteration?.Index === 3 && t.Status.State === 'running').length, 2);
  });

  it('runs a lost task again elsewhere when its node goes down', async () => {
    const n1 = await h.addNode({ hostname: 'n1' });
    await h.addNode({ hostname: 'n2' });
    h.completeAfter.set('work:1', 5000);
    const id = await h.createService(
      job('batch', 'work:1', { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 2 } }),
    );
    await h.run(1000);
    await h.setNode(n1, (n) => ({ ...n, Status: { ...n.Status, State: 'down' } }));
    await h.run(8000);
    const done = complete(h.tasks(id));
    assert.equal(done.length, 2);
    assert.ok(done.every((t) => t.NodeID !== n1));
  });
});

describe('global jobs', () => {
  it('runs once on every eligible node, and on a node that joins later', async () => {
    await h.addNode({ hostname: 'n1' });
    await h.addNode({ hostname: 'n2' });
    await h.addNode({ hostname: 'n3', availability: 'drain' });
    h.completeAfter.set('work:1', 500);
    const id = await h.createService(job('sweep', 'work:1', { GlobalJob: {} }));
    await h.run(3000);
    assert.equal(complete(h.tasks(id)).length, 2, 'not on the drained node');
    assert.deepEqual(await h.control.serviceStatus(id), { RunningTasks: 0, DesiredTasks: 0, CompletedTasks: 2 });
    const n4 = await h.addNode({ hostname: 'n4' });
    await h.run(3000);
    const tasks = h.tasks(id);
    assert.equal(tasks.length, 3);
    assert.equal(complete(tasks).filter((t) => t.NodeID === n4).length, 1);
    assert.ok(tasks.every((t) => t.Slot === 0 && t.DesiredState === 'complete'));
  });

  it('reports unfinished tasks as desired while it runs, and retries a failed one on its node', async () => {
    await h.addNode({ hostname: 'n1' });
    const n2 = await h.addNode({ hostname: 'n2' });
    h.completeAfter.set('work:1', 4000);
    const id = await h.createService(
      job(
        'sweep',
        'work:1',
        { GlobalJob: {} },
        { TaskTemplate: { ContainerSpec: { Image: 'work:1' }, RestartPolicy: { Delay: 0 } } },
      ),
    );
    await h.run(1000);
    assert.deepEqual(await h.control.serviceStatus(id), { RunningTasks: 2, DesiredTasks: 2, CompletedTasks: 0 });
    const onN2 = h.tasks(id).find((t) => t.NodeID === n2)!;
    await h.setTaskState(onN2.ID, 'failed', { Err: 'task: non-zero exit (1)' });
    await h.run(8000);
    const tasks = h.tasks(id);
    assert.equal(tasks.length, 3);
    assert.equal(complete(tasks).length, 2);
    assert.equal(tasks.find((t) => t.Restarts?.PreviousTaskID === onN2.ID)?.NodeID, n2);
  });
});

describe('replicated job properties', () => {
  it('never runs more than MaxConcurrent at once and ends with exactly TotalCompletions completed, whatever fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 7 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        async (concurrent, total, fails) => {
          const hh = new Harness();
          await hh.start();
          try {
            await hh.addNode({ hostname: 'n1' });
            hh.completeAfter.set('work:1', 300);
            const id = await hh.createService({
              Name: 'p',
              Mode: { ReplicatedJob: { MaxConcurrent: concurrent, TotalCompletions: total } },
              TaskTemplate: { ContainerSpec: { Image: 'work:1' }, RestartPolicy: { Delay: 0 } },
            });
            let seen = 0;
            for (let i = 0; i < 120; i++) {
              await hh.run(50);
              const tasks = hh.tasks(id);
              const unfinished = tasks.filter(
                (t) => t.DesiredState === 'complete' && !isTerminal(t.Status.State),
              ).length;
              assert.ok(unfinished <= concurrent, `${unfinished} unfinished > ${concurrent}`);
              // First attempts fail as the flags say; retries succeed.
              for (const t of tasks.filter((x) => x.Status.State === 'running' && !x.Restarts)) {
                if (fails[seen++ % fails.length])
                  await hh.setTaskState(t.ID, 'failed', { Err: 'task: non-zero exit (1)' });
              }
            }
            const tasks = hh.tasks(id);
            assert.equal(complete(tasks).length, total);
            assert.deepEqual(
              [...new Set(complete(tasks).map((t) => t.Slot))].sort((a, b) => a - b),
              Array.from({ length: total }, (_, i) => i),
            );
            assert.ok(tasks.every((t) => t.Slot < Math.max(total, 1)));
          } finally {
            hh.stop();
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
