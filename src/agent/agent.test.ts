/** The agent and the dispatcher together, in one process, on the in-memory executor and real time. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { systemClock } from '../common/clock.js';
import type { NodeId } from '../common/ids.js';
import { silentLogger } from '../common/logging.js';
import { SeededRandom } from '../common/random.js';
import { normalizeClusterSpec } from '../manager/controlapi/cluster.js';
import { Manager } from '../manager/manager.js';
import { MemoryProposer } from '../store/proposer.js';
import { Store } from '../store/store.js';
import { Agent } from './agent.js';
import { FakeExecutor } from './testing/fake-executor.js';

const NODE = 'node1' as NodeId;

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('agent with dispatcher', () => {
  let store: Store;
  let manager: Manager;
  let executor: FakeExecutor;
  let agent: Agent;

  beforeEach(async () => {
    const proposer = new MemoryProposer();
    store = new Store(proposer, systemClock);
    proposer.bind((i, a) => store.apply(i, a));
    executor = new FakeExecutor();
    manager = new Manager({
      store,
      clock: systemClock,
      random: new SeededRandom(1),
      logger: silentLogger,
      logSource: () => executor,
    });
    await store.update((tx) => {
      tx.create('cluster', {
        ID: 'c',
        Version: { Index: 0 },
        CreatedAt: 0,
        UpdatedAt: 0,
        Spec: normalizeClusterSpec({}),
        RootCA: { CACert: '' },
        JoinTokens: { Worker: '', Manager: '' },
        DefaultAddrPool: [],
        SubnetSize: 24,
        DataPathPort: 4789,
      });
      tx.create('node', {
        ID: NODE,
        Version: { Index: 0 },
        CreatedAt: 0,
        UpdatedAt: 0,
        Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
        Description: {
          Hostname: 'fake',
          Platform: { Architecture: 'x86_64', OS: 'linux' },
          Resources: { NanoCPUs: 2e9, MemoryBytes: 4e9 },
          Engine: { EngineVersion: '', Plugins: [] },
        },
        Status: { State: 'ready', Addr: '127.0.0.1' },
      });
    });
    manager.becomeLeader();
    agent = new Agent({
      nodeId: NODE,
      addr: '127.0.0.1',
      executor,
      dispatcher: () => manager.dispatcher,
      logger: silentLogger,
    });
    agent.start();
  });

  afterEach(async () => {
    await agent.stop();
    manager.loseLeadership();
  });

  const tasks = () => store.view((tx) => tx.all('task'));
  const spec = (replicas: number, image = 'img:1') => ({
    Name: 'web',
    TaskTemplate: { ContainerSpec: { Image: image }, RestartPolicy: { Delay: 100_000_000 } },
    Mode: { Replicated: { Replicas: replicas } },
  });

  it('runs every replica as a container and reports each state up to running', async () => {
    await manager.control.createService(spec(3));
    await until('3 running', () => tasks().filter((t) => t.Status.State === 'running').length === 3);
    assert.equal(executor.running().length, 3);
    assert.ok(tasks().every((t) => t.Status.ContainerStatus?.ContainerID));
  });

  it('replaces a container that died, and one removed behind its back', async () => {
    await manager.control.createService(spec(2));
    await until('2 running', () => tasks().filter((t) => t.Status.State === 'running').length === 2);
    const [a, b] = tasks();
    executor.kill(a!.ID, 137);
    executor.removeBehindBack(b!.ID);
    await until(
      'replacements running',
      () =>
        tasks().filter((t) => t.Status.State === 'running' && t.DesiredState === 'running').length === 2 &&
        executor.running().length === 2,
    );
    const failed = store.view((tx) => tx.get('task', a!.ID))!;
    assert.equal(failed.Status.State, 'failed');
    assert.equal(failed.Status.Err, 'task: non-zero exit (137)');
    assert.equal(store.view((tx) => tx.get('task', b!.ID))!.Status.Err, 'No such container');
  });

  it("rejects a task whose image is missing, with Docker's message", async () => {
    executor.missingImages.add('nope:1');
    await manager.control.createService(spec(1, 'nope:1'));
    await until('rejected', () => tasks().some((t) => t.Status.State === 'rejected'));
    assert.equal(tasks().find((t) => t.Status.State === 'rejected')!.Status.Err, 'No such image: nope:1');
  });

  it('removes the containers of a removed service', async () => {
    await manager.control.createService(spec(3));
    await until('3 running', () => executor.running().length === 3);
    await manager.control.removeService('web');
    await until('no containers', () => executor.containers.size === 0 && tasks().length === 0);
  });

  it('retries a container removal the engine refused, until the container is gone', async () => {
    await manager.control.createService(spec(2));
    await until('2 running', () => executor.running().length === 2);
    executor.failRemovals = 3;
    await manager.control.removeService('web');
    await until('no tasks', () => tasks().length === 0);
    await until('no containers', () => executor.containers.size === 0, 20_000);
    assert.equal(executor.failRemovals, 0);
  });

  it('adopts running containers after an agent restart instead of duplicating them', async () => {
    await manager.control.createService(spec(3));
    await until('3 running', () => executor.running().length === 3);
    await agent.stop();
    agent = new Agent({
      nodeId: NODE,
      addr: '127.0.0.1',
      executor,
      dispatcher: () => manager.dispatcher,
      logger: silentLogger,
    });
    agent.start();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(executor.created, 3);
    assert.equal(executor.running().length, 3);
  });
});
