/**
 * One contract, two executors: the same scenarios run against the in-memory FakeExecutor that the
 * agent's unit tests use and against the DockerExecutor on the real engine, so the fake cannot drift
 * from what the agent meets in production.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ServiceId, TaskId } from '../../src/common/ids.js';
import { DockerExecutor } from '../../src/agent/executor/docker-executor.js';
import type { Executor } from '../../src/agent/executor/executor.js';
import { FakeExecutor } from '../../src/agent/testing/fake-executor.js';
import type { TaskObject } from '../../src/store/types.js';
import { RUNTIME, removeContainersOfNode } from './support.js';

const IMAGE = 'shoal-test/busybox:1';
/** The image whose container exits at once with code 3 (a command for Docker, a setting for the fake). */
const EXITING = 'shoal-test/busybox:2';

interface Subject {
  name: string;
  executor: Executor;
  /** Makes `task` exit at once with `code`. */
  exitsWith(task: TaskObject, code: number): void;
}

const NODE = `contract-node-${process.pid}`;

function newTask(n: number, image = IMAGE): TaskObject {
  const id = `contracttask${process.pid}x${n}` as TaskId;
  return {
    ID: id,
    ServiceID: 'contractsvc' as ServiceId,
    Slot: n,
    Spec: {
      ContainerSpec: {
        Image: image,
        Command: ['sh', '-c', 'trap "exit 0" TERM; echo ready; while true; do sleep 1; done'],
      },
    },
    SpecVersion: 1,
    ServiceAnnotations: { Name: 'contract', Labels: {} },
    Annotations: { Name: `contract.${n}` },
    Status: { Timestamp: 0, State: 'assigned', Message: '' },
    DesiredState: 'running',
    Version: { Index: 1 },
    CreatedAt: 0,
    UpdatedAt: 0,
  };
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const fake = new FakeExecutor('contract');
const subjects: Subject[] = [
  { name: 'FakeExecutor', executor: fake, exitsWith: (_t, code) => fake.exitCodes.set(EXITING, code) },
  {
    name: 'DockerExecutor',
    executor: new DockerExecutor({
      runtimeUrl: RUNTIME,
      hostname: 'contract',
      clusterId: () => 'contract-cluster',
      nodeId: () => NODE,
    }),
    exitsWith: (t, code) => (t.Spec.ContainerSpec!.Command = ['sh', '-c', `exit ${code}`]),
  },
];

after(() => removeContainersOfNode(NODE));

for (const s of subjects) {
  describe(`executor contract: ${s.name}`, () => {
    const x = s.executor;

    it('describes its node', async () => {
      const d = await x.describe();
      assert.equal(typeof d.Hostname, 'string');
      assert.ok(d.Resources.NanoCPUs > 0 && d.Resources.MemoryBytes > 0);
      assert.equal(d.Platform.OS, 'linux');
    });

    it("refuses a missing image with Docker's message", async () => {
      if (x instanceof FakeExecutor) x.missingImages.add('shoal-test/nope:1');
      await assert.rejects(x.ensureImage('shoal-test/nope:1'), /No such image: shoal-test\/nope:1/);
      await x.ensureImage(IMAGE);
    });

    it('creates once per task, runs, stops, removes; the watch sees each change', async () => {
      const t = newTask(1);
      const seen: string[] = [];
      const unwatch = x.watch((taskId) => seen.push(taskId));
      try {
        const id = await x.create(t);
        assert.equal(await x.create(t), id, 'a second create for the same task returns the same container');
        assert.equal((await x.inspect(t.ID)).state, 'created');
        await x.start(id);
        const running = await x.inspect(id);
        assert.equal(running.state, 'running');
        assert.ok(running.pid > 0);
        assert.ok(
          (await x.listManaged()).some((c) => c.taskId === t.ID && c.id === id),
          'listed as managed',
        );
        await x.stop(id, 10_000);
        await eventually('the stop to show', async () => (await x.inspect(id)).state === 'exited');
        await eventually('the watch to see the stop', async () => seen.includes(t.ID));
        await x.remove(id);
        assert.equal((await x.inspect(t.ID)).state, 'missing');
        await x.remove(id); // missing is fine
        await x.stop(id, 1000); // so is stopping a missing container
      } finally {
        unwatch();
      }
    });

    it('reports the exit code of a task that exits on its own', async () => {
      const t = newTask(2, EXITING);
      s.exitsWith(t, 3);
      const id = await x.create(t);
      await x.start(id);
      await eventually('the exit', async () => (await x.inspect(id)).state === 'exited');
      assert.equal((await x.inspect(id)).exitCode, 3);
      await x.remove(id);
    });
  });
}
