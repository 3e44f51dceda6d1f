/**
 * Rollout policy on real containers, through the docker CLI: parallelism and delay, start-first,
 * automatic rollback after a bad image, a health-failing update paused, Pending reasons.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { containersOf, DOCKER, engine, ShoalProcess, waitFor } from './support.js';

interface WTask {
  ID: string;
  Slot: number;
  CreatedAt: string;
  DesiredState: string;
  Spec: { ContainerSpec: { Image: string } };
  Status: { State: string; ContainerStatus?: { ContainerID: string } };
}

describe('rollout policy on a real engine', { timeout: 900_000 }, () => {
  let shoal: ShoalProcess;

  before(async () => {
    shoal = await ShoalProcess.create('it-rollout');
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
  const updateStatus = (svc: string): string =>
    shoal.docker(['service', 'inspect', '--format', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}', svc]).trim();

  it('updates two tasks at a time with a delay between batches', async () => {
    shoal.docker(
      [
        'service',
        'create',
        '--name',
        'par',
        '--replicas',
        '4',
        '--stop-grace-period',
        '1s',
        '--update-parallelism',
        '2',
        '--update-delay',
        '3s',
        '--update-monitor',
        '1s',
        'shoal-test/busybox:1',
        'sleep',
        '3600',
      ],
      180_000,
    );
    shoal.docker(['service', 'update', '--image', 'shoal-test/busybox:2', 'par'], 300_000);
    const fresh = tasks('par')
      .filter((t) => t.Spec.ContainerSpec.Image === 'shoal-test/busybox:2')
      .map((t) => Date.parse(t.CreatedAt))
      .sort((a, b) => a - b);
    assert.equal(fresh.length, 4);
    assert.ok(fresh[1]! - fresh[0]! < 1500, 'the first two start together');
    assert.ok(fresh[2]! - fresh[1]! >= 3000, `the second batch waits for the delay (${fresh[2]! - fresh[1]!} ms)`);
    await waitFor('update completed', () => updateStatus('par') === 'completed');
    assert.ok(containersOf('par').every((c) => c.image === 'shoal-test/busybox:2'));
  });

  it('start-first keeps the old task running until its replacement runs', async () => {
    shoal.docker(
      [
        'service',
        'create',
        '--name',
        'sf',
        '--replicas',
        '1',
        '--stop-grace-period',
        '1s',
        '--update-order',
        'start-first',
        '--update-monitor',
        '1s',
        'shoal-test/busybox:1',
        'sleep',
        '3600',
      ],
      180_000,
    );
    let sawBoth = false;
    const update = spawn(DOCKER, ['service', 'update', '-d', '--image', 'shoal-test/busybox:2', 'sf'], {
      env: { ...process.env, ...shoal.env() },
      stdio: 'ignore',
    });
    await new Promise((r) => update.once('exit', r));
    await waitFor(
      'the update done',
      () => {
        const c = containersOf('sf');
        if (c.length === 2) sawBoth = true;
        return updateStatus('sf') === 'completed';
      },
      120_000,
      100,
    );
    assert.ok(sawBoth, 'old and new containers ran side by side');
    await waitFor(
      'only the new one left',
      () => containersOf('sf').length === 1 && containersOf('sf')[0]!.image === 'shoal-test/busybox:2',
    );
  });

  it('rolls back automatically when the new image does not exist (failure action rollback)', async () => {
    shoal.docker(
      [
        'service',
        'create',
        '--name',
        'rb',
        '--replicas',
        '2',
        '--stop-grace-period',
        '1s',
        '--restart-delay',
        '1s',
        '--update-failure-action',
        'rollback',
        '--rollback-monitor',
        '1s',
        'shoal-test/busybox:1',
        'sleep',
        '3600',
      ],
      180_000,
    );
    const r = shoal.dockerRaw(['service', 'update', '--image', 'shoal-test/nope:9', 'rb']);
    assert.match(r.stdout + r.stderr, /rollback/);
    await waitFor('rollback completed', () => updateStatus('rb') === 'rollback_completed', 120_000);
    assert.equal(
      shoal.docker(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'rb']).trim(),
      'shoal-test/busybox:1',
    );
    await waitFor(
      'two old-image containers',
      () => containersOf('rb').length === 2 && containersOf('rb').every((c) => c.image === 'shoal-test/busybox:1'),
    );
    assert.match(shoal.docker(['service', 'ps', '--no-trunc', 'rb']), /Rejected .*"No such image: shoal-test\/nope:9"/);
  });

  it("seed 004's pause experiment: a missing image, restart max attempts within a window, failure ratio 0.5", async () => {
    shoal.docker(
      [
        ...['service', 'create', '--name', 'seed', '--replicas', '7', '--stop-grace-period', '1s'],
        ...[
          '--restart-condition',
          'on-failure',
          '--restart-delay',
          '1s',
          '--restart-max-attempts',
          '3',
          '--restart-window',
          '120s',
        ],
        ...[
          '--update-parallelism',
          '2',
          '--update-delay',
          '1s',
          '--update-failure-action',
          'pause',
          '--update-monitor',
          '500ms',
          '--update-max-failure-ratio',
          '0.5',
        ],
        ...['shoal-test/busybox:1', 'sleep', '3600'],
      ],
      180_000,
    );
    const r = shoal.dockerRaw(['service', 'update', '--image', 'shoal-test/nope:4', 'seed']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /update paused due to failure or early termination of task/);
    assert.equal(updateStatus('seed'), 'paused');
    // Each updated slot retries the missing image up to max attempts (1 + 3 tasks), then gives up.
    await waitFor(
      'restart attempts used up',
      () => {
        const bad = tasks('seed').filter((t) => t.Spec.ContainerSpec.Image.startsWith('shoal-test/nope:4'));
        const slots = new Set(bad.map((t) => t.Slot));
        return (
          slots.size > 0 &&
          [...slots].every(
            (slot) =>
              bad.filter((t) => t.Slot === slot).length === 4 &&
              bad.filter((t) => t.Slot === slot).every((t) => t.Status.State === 'rejected'),
          )
        );
      },
      60_000,
    );
    const bad = tasks('seed').filter((t) => t.Spec.ContainerSpec.Image.startsWith('shoal-test/nope:4'));
    // Failures are counted against all 7 slots to change: 2/7 goes on, 4/7 > 0.5 pauses, so two
    // batches are affected, as the seed saw.
    assert.equal(new Set(bad.map((t) => t.Slot)).size, 4, 'the update paused after its second batch of two');
    await waitFor('the replaced slots stopped; the other three keep the old image', () => {
      const old = containersOf('seed');
      return old.length === 3 && old.every((c) => c.image === 'shoal-test/busybox:1');
    });
    assert.match(
      shoal.docker(['service', 'ps', '--no-trunc', 'seed']),
      /\\_ seed\.\d+\s+shoal-test\/nope:4\s+it-rollout\s+Shutdown\s+Rejected .*"No such image: shoal-test\/nope:4"/,
    );
  });

  /** When a task's container started and finished on the engine (finished: Infinity while it runs). */
  const containerSpan = (t: WTask): { start: number; end: number } => {
    const [started, finished, running] = engine([
      'inspect',
      '--format',
      '{{.State.StartedAt}} {{.State.FinishedAt}} {{.State.Running}}',
      t.Status.ContainerStatus!.ContainerID,
    ])
      .trim()
      .split(' ');
    return { start: Date.parse(started!), end: running === 'true' ? Infinity : Date.parse(finished!) };
  };
  const runningBySlot = (svc: string): Map<number, WTask> =>
    new Map(
      tasks(svc)
        .filter((t) => t.DesiredState === 'running' && t.Status.State === 'running')
        .map((t) => [t.Slot, t]),
    );

  it('starts a replacement once the task it replaced stopped, and only that one: a rollback does not wait for the original task', async () => {
    // A stop-first update: the new container starts only after the old one (PID 1 `sleep` ignores
    // SIGTERM, so it stops at the end of its 3 s grace) has finished.
    shoal.docker(
      [
        'service',
        'create',
        '--name',
        'ord',
        '--replicas',
        '1',
        '--stop-grace-period',
        '3s',
        '--update-monitor',
        '1s',
        'shoal-test/busybox:1',
        'sleep',
        '3600',
      ],
      180_000,
    );
    const before = runningBySlot('ord').get(1)!;
    shoal.docker(['service', 'update', '--image', 'shoal-test/busybox:2', 'ord'], 180_000);
    const after = runningBySlot('ord').get(1)!;
    assert.notEqual(after.ID, before.ID);
    const old = containerSpan(before);
    assert.ok(containerSpan(after).start >= old.end, 'the replacement started after its predecessor finished');
    assert.ok(old.end - old.start >= 3000, 'the predecessor used its stop grace');

    // The scenario: 4 × `sleep 3600` (10 s stop grace), an update to a missing image rolled back.
    shoal.docker(
      [
        ...['service', 'create', '--name', 'rbo', '--replicas', '4'],
        ...['--update-parallelism', '2', '--update-failure-action', 'rollback', '--update-monitor', '2s'],
        ...['--rollback-parallelism', '4', '--rollback-monitor', '1s'],
        ...['shoal-test/busybox:1', 'sleep', '3600'],
      ],
      180_000,
    );
    const originals = runningBySlot('rbo');
    const t0 = Date.now();
    shoal.docker(['service', 'update', '-d', '--image', 'shoal-test/missing:1', 'rbo']);
    await waitFor(
      'rollback completed',
      () => updateStatus('rbo') === 'rollback_completed',
      60_000,
      100,
      shoal.explain('rbo'),
    );
    const took = Date.now() - t0;
    assert.ok(
      took < 8000,
      `rollback_completed after ${took} ms: it must not wait out the original tasks' 10 s stop grace`,
    );
    const now = runningBySlot('rbo');
    const replaced = [...now.values()].filter((t) => t.ID !== originals.get(t.Slot)?.ID);
    assert.equal(replaced.length, 2, 'the two slots of the first batch run rolled-back tasks');
    for (const t of replaced) {
      const original = containerSpan(originals.get(t.Slot)!);
      assert.ok(
        containerSpan(t).start < original.end,
        `slot ${t.Slot}: the rolled-back task started while the slot's original task was still stopping`,
      );
      assert.ok(
        tasks('rbo').some(
          (x) =>
            x.Slot === t.Slot &&
            x.Spec.ContainerSpec.Image.startsWith('shoal-test/missing:1') &&
            x.Status.State === 'rejected',
        ),
        'it replaced the rejected task',
      );
    }
    shoal.docker(['service', 'rm', 'ord', 'rbo']);
  });

  it('pauses an update whose new tasks fail their healthcheck (failure action pause)', async () => {
    shoal.docker(
      [
        'service',
        'create',
        '--name',
        'hp',
        '--replicas',
        '3',
        '--stop-grace-period',
        '1s',
        '--update-monitor',
        '10s',
        'shoal-test/busybox:1',
        'sleep',
        '3600',
      ],
      180_000,
    );
    const r = shoal.dockerRaw([
      'service',
      'update',
      '--health-cmd',
      'false',
      '--health-interval',
      '1s',
      '--health-retries',
      '1',
      '--restart-delay',
      '30s',
      'hp',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /update paused due to failure or early termination of task/);
    assert.equal(updateStatus('hp'), 'paused');
    const running = containersOf('hp');
    assert.equal(running.length, 2, 'the slots not yet updated keep running');
  });

  it('shows why a task is Pending and places it once a node fits', async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'pend',
      '--constraint',
      'node.labels.disk==ssd',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    await waitFor('pending reason', () =>
      /Running\s+Pending .*"no suitable node \(scheduling constraints not satisfied on 1 node\)"/.test(
        shoal.docker(['service', 'ps', '--no-trunc', 'pend']),
      ),
    );
    shoal.docker(['node', 'update', '--label-add', 'disk=ssd', 'self'.replace('self', shoal.rememberNodeId())]);
    await waitFor('placed', () => containersOf('pend').length === 1);
  });

  it("honours max replicas per node and resource reservations, with Docker's Pending reasons", async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'perhost',
      '--replicas',
      '3',
      '--replicas-max-per-node',
      '1',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'big',
      '--reserve-memory',
      '100000g',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    await waitFor('one per node, two pending', () => {
      const ps = shoal.docker(['service', 'ps', '--no-trunc', 'perhost']);
      return (
        containersOf('perhost').length === 1 &&
        (ps.match(/Pending .*"no suitable node \(max replicas per node limit exceed on 1 node\)"/g) ?? []).length === 2
      );
    });
    await waitFor('insufficient resources', () =>
      /Pending .*"no suitable node \(insufficient resources on 1 node\)"/.test(
        shoal.docker(['service', 'ps', '--no-trunc', 'big']),
      ),
    );
    assert.equal(containersOf('big').length, 0);
    shoal.docker(['service', 'rm', 'perhost', 'big']);
  });
});
