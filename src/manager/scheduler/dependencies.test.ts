import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { NodeId, ServiceId, TaskId } from '../../common/ids.js';
import type { DependencyCondition, ServiceMode, ServiceObject, TaskObject, TaskState } from '../../store/types.js';
import { Harness } from '../testing/harness.js';
import { DependencyGate, dependencyProgress } from './dependencies.js';

function service(name: string, mode: ServiceMode, extra: Partial<ServiceObject> = {}): ServiceObject {
  return {
    ID: `id-${name}` as ServiceId,
    Version: { Index: 1 },
    CreatedAt: 0,
    UpdatedAt: 0,
    Spec: { Name: name, TaskTemplate: {}, Mode: mode },
    SpecVersion: 1,
    Endpoint: { Spec: {} },
    ...extra,
  };
}

let seq = 0;
function task(
  s: ServiceObject,
  state: TaskState,
  o: { slot?: number; node?: string; desired?: TaskState; iteration?: number; created?: number } = {},
): TaskObject {
  seq++;
  return {
    ID: `t${seq}` as TaskId,
    Version: { Index: 1 },
    CreatedAt: o.created ?? seq,
    UpdatedAt: 0,
    ServiceID: s.ID,
    Slot: o.slot ?? 1,
    NodeID: (o.node ?? 'n1') as NodeId,
    Spec: {},
    SpecVersion: 1,
    ServiceAnnotations: { Name: s.Spec.Name, Labels: {} },
    Annotations: { Name: '' },
    Status: { Timestamp: 0, State: state, Message: '' },
    DesiredState: o.desired ?? 'running',
    JobIteration: o.iteration === undefined ? undefined : { Index: o.iteration },
  };
}

const dep = (Service: string, Condition: DependencyCondition) => ({ Service, Condition });
const none = new Set<string>();

describe('dependency progress (pure)', () => {
  const db = service('db', { Replicated: { Replicas: 2 } });

  it('service_started counts starting and running tasks; service_healthy only running ones', () => {
    const tasks = [task(db, 'starting', { slot: 1 }), task(db, 'running', { slot: 2 })];
    assert.deepEqual(dependencyProgress(dep('db', 'service_started'), db, tasks, none), { kind: 'met' });
    assert.deepEqual(dependencyProgress(dep('db', 'service_healthy'), db, tasks, none), {
      kind: 'waiting',
      condition: 'service_healthy',
      have: 1,
      want: 2,
    });
  });

  it('tasks on down nodes and tasks being shut down do not count', () => {
    const tasks = [task(db, 'running', { node: 'down1' }), task(db, 'running', { slot: 2, desired: 'shutdown' })];
    const p = dependencyProgress(dep('db', 'service_healthy'), db, tasks, new Set(['down1']));
    assert.deepEqual(p, { kind: 'waiting', condition: 'service_healthy', have: 0, want: 2 });
  });

  it('a missing or deleting dependency is not created; 0 replicas is met', () => {
    assert.deepEqual(dependencyProgress(dep('db', 'service_started'), undefined, [], none), { kind: 'missing' });
    const gone = service('db', { Replicated: { Replicas: 1 } }, { PendingDelete: true });
    assert.deepEqual(dependencyProgress(dep('db', 'service_started'), gone, [], none), { kind: 'missing' });
    const zero = service('db', { Replicated: { Replicas: 0 } });
    assert.deepEqual(dependencyProgress(dep('db', 'service_healthy'), zero, [], none), { kind: 'met' });
  });

  it('a global dependency wants one running task per node it has a task on, at least one', () => {
    const g = service('agent', { Global: {} });
    assert.deepEqual(dependencyProgress(dep('agent', 'service_started'), g, [], none), {
      kind: 'waiting',
      condition: 'service_started',
      have: 0,
      want: 1,
    });
    const tasks = [task(g, 'running', { slot: 0, node: 'n1' }), task(g, 'pending', { slot: 0, node: 'n2' })];
    const p = dependencyProgress(dep('agent', 'service_healthy'), g, tasks, none);
    assert.deepEqual(p, { kind: 'waiting', condition: 'service_healthy', have: 1, want: 2 });
  });

  it('service_completed_successfully: a replicated job counts completed slots of its current run', () => {
    const job = service(
      'migrate',
      { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 2 } },
      {
        JobStatus: { JobIteration: { Index: 1 }, LastExecution: 0 },
      },
    );
    const old = task(job, 'complete', { slot: 0, iteration: 0, desired: 'complete' });
    const one = task(job, 'complete', { slot: 0, iteration: 1, desired: 'complete' });
    const failed = task(job, 'failed', { slot: 1, iteration: 1, desired: 'complete' });
    const cond = dep('migrate', 'service_completed_successfully');
    assert.deepEqual(dependencyProgress(cond, job, [old, one, failed], none), {
      kind: 'waiting',
      condition: 'service_completed_successfully',
      have: 1,
      want: 2,
    });
    const two = task(job, 'complete', { slot: 1, iteration: 1, desired: 'complete' });
    assert.deepEqual(dependencyProgress(cond, job, [old, one, failed, two], none), { kind: 'met' });
  });

  it('service_completed_successfully: a service that is not a job needs the newest task of every slot complete', () => {
    const s = service('init', { Replicated: { Replicas: 1 } });
    const cond = dep('init', 'service_completed_successfully');
    const done = task(s, 'complete', { slot: 1, created: 1 });
    assert.deepEqual(dependencyProgress(cond, s, [done], none), { kind: 'met' });
    // Restarted after completing (restart condition any): it is running again, not completed.
    const again = task(s, 'running', { slot: 1, created: 2 });
    assert.equal(dependencyProgress(cond, s, [done, again], none).kind, 'waiting');
  });

  it('a global job completes once every node it ran on has a complete task', () => {
    const g = service('setup', { GlobalJob: {} }, { JobStatus: { JobIteration: { Index: 0 }, LastExecution: 0 } });
    const cond = dep('setup', 'service_completed_successfully');
    const a = task(g, 'complete', { slot: 0, node: 'n1', iteration: 0, desired: 'complete' });
    const b = task(g, 'running', { slot: 0, node: 'n2', iteration: 0, desired: 'complete' });
    assert.deepEqual(dependencyProgress(cond, g, [a, b], none), {
      kind: 'waiting',
      condition: 'service_completed_successfully',
      have: 1,
      want: 2,
    });
  });

  it('the gate names every unmet dependency, in spec order', () => {
    const web = service('web', { Replicated: { Replicas: 1 } });
    web.Spec.DependsOn = [dep('db', 'service_healthy'), dep('cache', 'service_started'), dep('ok', 'service_started')];
    const ok = service('ok', { Replicated: { Replicas: 1 } });
    const gate = new DependencyGate([web, db, ok], [task(db, 'running'), task(ok, 'running')], []);
    assert.equal(gate.waitReason(web.ID), 'waiting for db: healthy 1/2; waiting for cache: not created');
    assert.equal(gate.waitReason(db.ID), undefined);
  });
});

describe('dependency gate in the scheduler', () => {
  let h: Harness;
  beforeEach(async () => {
    h = new Harness();
    await h.start();
    await h.addNode({ hostname: 'n1' });
  });
  afterEach(() => h.stop());

  /** A db that cannot be placed until node n1 has the label `db=yes`. */
  const heldDb = {
    Name: 'db',
    TaskTemplate: { ContainerSpec: { Image: 'db:1' }, Placement: { Constraints: ['node.labels.db==yes'] } },
  };
  const releaseDb = () =>
    h.setNode('node-n1', (n) => ({ ...n, Spec: { ...n.Spec, Labels: { ...n.Spec.Labels, db: 'yes' } } }));

  it('keeps a task Pending with the reason until the dependency is healthy, then places it', async () => {
    const db = await h.createService(heldDb);
    const web = await h.createService({ Name: 'web', DependsOn: [{ Service: 'db', Condition: 'service_healthy' }] });
    await h.run(500);
    const [waiting] = h.tasks(web);
    assert.equal(waiting!.Status.State, 'pending');
    assert.equal(waiting!.Status.Err, 'waiting for db: healthy 0/1');
    assert.equal(waiting!.NodeID, undefined);
    await releaseDb();
    await h.run(1000);
    const [dbTask] = h.running(db);
    const [webTask] = h.running(web);
    assert.ok(dbTask && webTask);
    assert.ok(webTask.RunningAt! > dbTask.RunningAt!, 'web started after db was running');
    assert.equal(webTask.Status.Err, undefined);
  });

  it('waits for a dependency that does not exist yet', async () => {
    const web = await h.createService({ Name: 'web', DependsOn: [{ Service: 'db', Condition: 'service_started' }] });
    await h.run(300);
    assert.equal(h.tasks(web)[0]!.Status.Err, 'waiting for db: not created');
    const db = await h.createService({ Name: 'db' });
    await h.run(1000);
    assert.equal(h.running(db).length, 1);
    assert.equal(h.running(web).length, 1);
  });

  it('service_started releases on a started (not yet healthy) task; service_healthy does not', async () => {
    h.agentsRun = false;
    const db = await h.createService({ Name: 'db' });
    const started = await h.createService({
      Name: 'a',
      DependsOn: [{ Service: 'db', Condition: 'service_started' }],
    });
    const healthy = await h.createService({
      Name: 'b',
      DependsOn: [{ Service: 'db', Condition: 'service_healthy' }],
    });
    await h.run(300);
    await h.setTaskState(h.tasks(db)[0]!.ID, 'starting');
    await h.run(300);
    assert.equal(h.tasks(started)[0]!.Status.State, 'assigned');
    assert.equal(h.tasks(healthy)[0]!.Status.State, 'pending');
    assert.equal(h.tasks(healthy)[0]!.Status.Err, 'waiting for db: healthy 0/1');
  });

  it('waits for a job to complete successfully', async () => {
    h.completeAfter.set('migrate:1', 400);
    const job = await h.createService({
      Name: 'migrate',
      TaskTemplate: { ContainerSpec: { Image: 'migrate:1' } },
      Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
    });
    const web = await h.createService({
      Name: 'web',
      DependsOn: [{ Service: 'migrate', Condition: 'service_completed_successfully' }],
    });
    await h.run(300);
    assert.equal(h.tasks(web)[0]!.Status.Err, 'waiting for migrate: completed 0/1');
    await h.run(1000);
    assert.equal(h.tasks(job)[0]!.Status.State, 'complete');
    assert.equal(h.running(web).length, 1);
  });

  it('a started task keeps running when its dependency fails later', async () => {
    const db = await h.createService({ Name: 'db' });
    const web = await h.createService({ Name: 'web', DependsOn: [{ Service: 'db', Condition: 'service_healthy' }] });
    await h.run(1000);
    const [before] = h.running(web);
    assert.ok(before);
    h.failingImages.set('img:1', 1);
    h.agentsRun = false;
    await h.setTaskState(h.running(db)[0]!.ID, 'failed');
    await h.run(500);
    assert.equal(h.tasks(web).length, 1);
    assert.equal(h.tasks(web)[0]!.Status.State, 'running');
  });

  it('clearing DependsOn with an explicit [] releases waiting tasks at once', async () => {
    await h.createService(heldDb);
    const web = await h.createService({ Name: 'web', DependsOn: [{ Service: 'db', Condition: 'service_started' }] });
    await h.run(300);
    assert.equal(h.tasks(web)[0]!.Status.State, 'pending');
    await h.updateService(web, (s) => ({ ...s, DependsOn: [] }));
    await h.run(300);
    assert.equal(h.running(web).length, 1);
  });

  it('gates later replicas too: a scale-up waits while the dependency is down', async () => {
    const db = await h.createService({ Name: 'db', Mode: { Replicated: { Replicas: 1 } } });
    const web = await h.createService({ Name: 'web', DependsOn: [{ Service: 'db', Condition: 'service_healthy' }] });
    await h.run(1000);
    await h.updateService(db, (s) => ({
      ...s,
      TaskTemplate: { ...s.TaskTemplate, Placement: heldDb.TaskTemplate.Placement },
    }));
    await h.run(1000);
    assert.equal(h.running(db).length, 0);
    await h.updateService(web, (s) => ({ ...s, Mode: { Replicated: { Replicas: 2 } } }));
    await h.run(500);
    assert.equal(h.running(web).length, 1, 'the first replica keeps running');
    const added = h.tasks(web).find((t) => t.Slot === 2)!;
    assert.equal(added.Status.State, 'pending');
    assert.equal(added.Status.Err, 'waiting for db: healthy 0/1');
  });
});
