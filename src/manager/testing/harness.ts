/**
 * A recording harness for leader components: a store on an in-memory proposer, a virtual clock, a
 * seeded random, and a fake fleet of agents that move tasks through their states instantly. Tests
 * seed nodes and services, let time pass, and assert on the resulting tasks.
 */
import { VirtualClock } from '../../common/clock.js';
import type { NodeId, ServiceId } from '../../common/ids.js';
import { silentLogger } from '../../common/logging.js';
import { SeededRandom } from '../../common/random.js';
import { MemoryProposer } from '../../store/proposer.js';
import { Store } from '../../store/store.js';
import {
  isTerminal,
  type NodeObject,
  type ServiceObject,
  type ServiceSpec,
  type TaskObject,
  type TaskState,
} from '../../store/types.js';
import { Allocator } from '../allocator/allocator.js';
import { normalizeClusterSpec } from '../controlapi/cluster.js';
import { noLeaderHooks } from '../controlapi/context.js';
import { localClusterApi } from '../controlapi/methods.js';
import { Orchestrator } from '../orchestrator/orchestrator.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { TaskReaper } from '../taskreaper/taskreaper.js';

export interface FakeNodeOptions {
  hostname: string;
  role?: 'manager' | 'worker';
  labels?: Record<string, string>;
  state?: 'ready' | 'down';
  availability?: 'active' | 'pause' | 'drain';
  cpus?: number;
  memory?: number;
  /** Engine plugins, e.g. { Type: 'Volume', Name: 'local' }. */
  plugins?: { Type: string; Name: string }[];
}

export class Harness {
  readonly clock = new VirtualClock(1_700_000_000_000);
  readonly random = new SeededRandom(42);
  readonly proposer = new MemoryProposer();
  readonly store = new Store(this.proposer, this.clock);
  readonly control = localClusterApi({
    store: this.store,
    random: this.random,
    logSource: () => undefined,
    leader: noLeaderHooks,
  });
  readonly components = [
    new Allocator(this.store, this.clock, silentLogger),
    new Scheduler(this.store, this.clock, silentLogger),
    new Orchestrator(this.store, this.clock, this.random, silentLogger),
    new TaskReaper(this.store, this.clock, silentLogger),
  ];
  /** When true, the fake agents move assigned tasks forward on every tick. */
  agentsRun = true;
  /** Images whose tasks fail at once with the given exit code. */
  failingImages = new Map<string, number>();
  /** Images that do not exist: tasks are rejected. */
  missingImages = new Set<string>();

  constructor() {
    this.proposer.bind((i, a) => this.store.apply(i, a));
  }

  async start(): Promise<void> {
    await this.store.update((tx) => {
      tx.create('cluster', {
        ID: 'cluster1',
        Version: { Index: 0 },
        CreatedAt: 0,
        UpdatedAt: 0,
        Spec: normalizeClusterSpec({}),
        RootCA: { CACert: '' },
        JoinTokens: { Worker: '', Manager: '' },
        DefaultAddrPool: ['10.0.0.0/8'],
        SubnetSize: 24,
        DataPathPort: 4789,
      });
    });
    for (const c of this.components) c.run();
  }

  stop(): void {
    for (const c of this.components) c.stop();
  }

  async addNode(o: FakeNodeOptions): Promise<NodeId> {
    const id = `node-${o.hostname}` as NodeId;
    const node: NodeObject = {
      ID: id,
      Version: { Index: 0 },
      CreatedAt: 0,
      UpdatedAt: 0,
      Spec: { Labels: o.labels ?? {}, Role: o.role ?? 'worker', Availability: o.availability ?? 'active' },
      Description: {
        Hostname: o.hostname,
        Platform: { Architecture: 'x86_64', OS: 'linux' },
        Resources: { NanoCPUs: (o.cpus ?? 2) * 1e9, MemoryBytes: o.memory ?? 8 * 1024 ** 3 },
        Engine: { EngineVersion: '20.10.24', Plugins: o.plugins ?? [] },
      },
      Status: { State: o.state ?? 'ready', Addr: `10.1.0.${1 + this.nodeCount++}` },
    };
    await this.store.update((tx) => tx.create('node', node));
    return id;
  }
  private nodeCount = 0;

  async setNode(id: string, change: (n: NodeObject) => NodeObject): Promise<void> {
    await this.store.update((tx) => tx.update('node', change(tx.get('node', id)!)));
  }

  async createService(spec: Partial<ServiceSpec> & { Name: string }): Promise<ServiceId> {
    const full: ServiceSpec = {
      TaskTemplate: { ContainerSpec: { Image: 'img:1' } },
      Mode: { Replicated: { Replicas: 1 } },
      ...spec,
    };
    const { id } = await this.control.createService(full);
    return id as ServiceId;
  }

  async updateService(id: string, change: (s: ServiceSpec) => ServiceSpec): Promise<void> {
    const s = this.service(id);
    await this.control.updateService(id, s.Version.Index, change(structuredClone(s.Spec)), {});
  }

  service(id: string): ServiceObject {
    return this.store.view((tx) => tx.get('service', id))!;
  }

  tasks(serviceId?: string): TaskObject[] {
    return this.store.view((tx) => tx.all('task')).filter((t) => !serviceId || t.ServiceID === serviceId);
  }

  /** Tasks meant to run and running. */
  running(serviceId?: string): TaskObject[] {
    return this.tasks(serviceId).filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
  }

  async setTaskState(id: string, state: TaskState, extra: Partial<TaskObject['Status']> = {}): Promise<void> {
    await this.store.update((tx) => {
      const t = tx.get('task', id)!;
      tx.update('task', { ...t, Status: { ...t.Status, State: state, Timestamp: tx.now, ...extra } });
    });
  }

  /** Images that run for this long, then fail with exit 1 (for monitor-window tests). */
  failAfter = new Map<string, number>();
  /** Images that run for this long, then exit 0 (job tasks that do some work). */
  completeAfter = new Map<string, number>();
  /** Images whose containers take this long to stop (PID 1 ignoring SIGTERM: the stop grace). */
  slowStop = new Map<string, number>();
  /** When each task was first seen asked to stop, for `slowStop`. */
  private stopAsked = new Map<string, number>();

  /** Lets virtual time pass in steps, running components and fake agents in between. */
  async run(ms: number, step = 50): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      await flush();
      if (this.agentsRun) await this.agentStep();
      await flush();
      this.clock.advance(step);
      await flush();
    }
  }

  /** The fake agents: one forward move per task per step, like real agents. */
  private async agentStep(): Promise<void> {
    const changes: { id: string; state: TaskState; err?: string; exit?: number }[] = [];
    for (const t of this.tasks()) {
      if (!t.NodeID || isTerminal(t.Status.State)) continue;
      const image = t.Spec.ContainerSpec?.Image ?? '';
      const stop = t.DesiredState === 'shutdown' || t.DesiredState === 'remove';
      if (stop) {
        const asked = this.stopAsked.get(t.ID) ?? this.clock.now();
        this.stopAsked.set(t.ID, asked);
        const running = t.Status.State === 'running' || t.Status.State === 'starting';
        if (!running || this.clock.now() - asked >= (this.slowStop.get(image) ?? 0))
          changes.push({ id: t.ID, state: 'shutdown' });
        continue;
      }
      switch (t.Status.State) {
        case 'assigned':
          changes.push({
            id: t.ID,
            state: this.missingImages.has(image) ? 'rejected' : 'ready',
            err: this.missingImages.has(image) ? `No such image: ${image}` : undefined,
          });
          break;
        case 'ready':
          if (t.DesiredState === 'running' || t.DesiredState === 'complete')
            changes.push({ id: t.ID, state: 'running' });
          break;
        case 'running': {
          const code = this.failingImages.get(image);
          if (code !== undefined) changes.push({ id: t.ID, state: code === 0 ? 'complete' : 'failed', exit: code });
          const after = this.failAfter.get(image);
          if (after !== undefined && this.clock.now() - (t.RunningAt ?? 0) >= after)
            changes.push({ id: t.ID, state: 'failed', exit: 1 });
          const done = this.completeAfter.get(image);
          if (done !== undefined && this.clock.now() - (t.RunningAt ?? 0) >= done)
            changes.push({ id: t.ID, state: 'complete', exit: 0 });
          break;
        }
      }
    }
    if (changes.length === 0) return;
    await this.store.update((tx) => {
      for (const c of changes) {
        const t = tx.get('task', c.id);
        if (!t) continue;
        const status = { ...t.Status, State: c.state, Timestamp: tx.now, Err: c.err };
        if (c.exit !== undefined) status.ContainerStatus = { ContainerID: 'c', PID: 0, ExitCode: c.exit };
        const next = { ...t, Status: status };
        if (c.state === 'running') next.RunningAt = tx.now;
        tx.update('task', next);
      }
    });
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
