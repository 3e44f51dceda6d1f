/**
 * Swarm jobs on a real engine, through the docker CLI: a replicated job runs its completions at most
 * MaxConcurrent at a time and stops; a failing job task is retried under the restart policy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engine, ShoalProcess, waitFor } from './support.js';

interface WTask {
  ID: string;
  Slot: number;
  DesiredState: string;
  /** Go omits a zero Index: the first run reads `{}`. */
  JobIteration?: { Index?: number };
  Status: { State: string; Err?: string; ContainerStatus?: { ContainerID: string; ExitCode: number } };
}

describe('swarm jobs on a real engine', { timeout: 600_000 }, () => {
  let shoal: ShoalProcess;

  before(async () => {
    shoal = await ShoalProcess.create('it-jobs');
    await shoal.start();
    shoal.docker(['swarm', 'init']);
    shoal.rememberNodeId();
  });
  after(async () => {
    await shoal.cleanup();
  });

  const tasks = (svc: string): WTask[] => {
    const ids = shoal.docker(['service', 'ps', '-q', '--no-trunc', svc]).trim().split('\n').filter(Boolean);
    return ids.length ? (JSON.parse(shoal.docker(['inspect', '--type', 'task', ...ids])) as WTask[]) : [];
  };
  const replicas = (svc: string): string =>
    shoal.docker(['service', 'ls', '--filter', `name=${svc}`, '--format', '{{.Replicas}}']).trim();

  it('runs 5 completions of a replicated job, at most 2 at once, then stops', async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'job5',
      '--mode',
      'replicated-job',
      '--replicas',
      '5',
      '--max-concurrent',
      '2',
      'shoal-test/busybox:1',
      'sleep',
      '2',
    ]);
    await waitFor(
      '5/5 completed',
      () => replicas('job5') === '0/2 (5/5 completed)',
      120_000,
      250,
      shoal.explain('job5'),
    );
    const all = tasks('job5');
    assert.equal(all.length, 5, 'exactly five tasks');
    assert.ok(
      all.every(
        (t) =>
          t.Status.State === 'complete' &&
          t.DesiredState === 'complete' &&
          t.JobIteration !== undefined &&
          (t.JobIteration.Index ?? 0) === 0,
      ),
    );
    assert.deepEqual(all.map((t) => t.Slot).sort(), [0, 1, 2, 3, 4]);
    // When each container really ran, from the engine: never more than two at the same moment.
    const spans = all.map((t) => {
      const [started, finished] = engine([
        'inspect',
        '--format',
        '{{.State.StartedAt}} {{.State.FinishedAt}}',
        t.Status.ContainerStatus!.ContainerID,
      ])
        .trim()
        .split(' ');
      return { start: Date.parse(started!), end: Date.parse(finished!) };
    });
    // At each container start, how many were running (itself included).
    const peak = Math.max(...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
    assert.equal(peak, 2, 'two ran side by side, never three');
    const ps = shoal.docker(['service', 'ps', 'job5']);
    assert.equal((ps.match(/\bComplete\s+Complete\b/g) ?? []).length, 5, ps);
    // Nothing more starts once the job is done.
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(tasks('job5').length, 5);
  });

  it('retries a failing job task under the restart policy, then gives up', async () => {
    shoal.docker([
      ...['service', 'create', '-d', '--name', 'jobfail', '--mode', 'replicated-job'],
      ...['--restart-delay', '1s', '--restart-max-attempts', '2'],
      ...['shoal-test/busybox:1', 'sh', '-c', 'exit 3'],
    ]);
    await waitFor(
      'three failed attempts',
      () => tasks('jobfail').filter((t) => t.Status.State === 'failed').length === 3,
      120_000,
      250,
      shoal.explain('jobfail'),
    );
    await new Promise((r) => setTimeout(r, 3000));
    const all = tasks('jobfail');
    assert.equal(all.length, 3, 'first run + 2 restarts, then no more');
    assert.ok(all.every((t) => t.Slot === 0 && t.Status.Err === 'task: non-zero exit (3)'));
    assert.equal(replicas('jobfail'), '0/1 (0/1 completed)');
  });

  it('runs a global job once on the node, and the docker CLI follows it to "job complete"', async () => {
    const r = shoal.dockerRaw([
      'service',
      'create',
      '--name',
      'gj',
      '--mode',
      'global-job',
      'shoal-test/busybox:1',
      'true',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /job complete/);
    assert.equal(replicas('gj'), '0/0 (1/1 completed)');
    const all = tasks('gj');
    assert.equal(all.length, 1);
    assert.equal(all[0]!.Slot, 0);
    assert.equal(all[0]!.Status.State, 'complete');
  });

  it('runs the job again on service update --force (a new JobIteration)', async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'again',
      '--mode',
      'replicated-job',
      '--replicas',
      '2',
      'shoal-test/busybox:1',
      'true',
    ]);
    await waitFor('first run', () => replicas('again') === '0/2 (2/2 completed)', 120_000, 250, shoal.explain('again'));
    shoal.docker(['service', 'update', '-d', '--force', 'again']);
    assert.equal(
      shoal.docker(['service', 'inspect', '--format', '{{.JobStatus.JobIteration.Index}}', 'again']).trim(),
      '1',
    );
    await waitFor(
      'second run',
      () => tasks('again').filter((t) => t.JobIteration?.Index === 1 && t.Status.State === 'complete').length === 2,
      120_000,
      250,
      shoal.explain('again'),
    );
    assert.equal(replicas('again'), '0/2 (2/2 completed)');
  });
});
