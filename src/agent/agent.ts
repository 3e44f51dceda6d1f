/**
 * The agent of one node: keeps a session with a manager's dispatcher, runs a TaskRunner per assigned
 * task, reports status, heartbeats, and reconnects with backoff when the session drops. Containers
 * keep running while the agent has no manager.
 */
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import type {
  AgentSession,
  AssignedPayload,
  Assignments,
  DispatcherEndpoint,
  TaskStatusUpdate,
} from '../manager/dispatcher/session.js';
import { stateRank, type TaskObject, type TaskStatus } from '../store/types.js';
import type { Executor } from './executor/executor.js';
import type { AgentInstruments } from './instruments.js';
import type { HostNetworks } from './network/host-networks.js';
import type { PayloadDirs } from './secrets/payload-dirs.js';
import { payloadFilesOf, withPayloadMounts } from './secrets/task-payloads.js';
import { Semaphore } from './semaphore.js';
import { TaskRunner } from './task-runner.js';

export interface AgentOptions {
  nodeId: string;
  addr: string;
  executor: Executor;
  /** Where to find a dispatcher now (the local manager, or a remote one). */
  dispatcher: () => DispatcherEndpoint | undefined;
  logger: Logger;
  now?: () => number;
  /** The role the cluster wants this node in, as each heartbeat tells it. */
  onRole?: (role: 'manager' | 'worker') => void;
  /** The overlays on this host (none in unit tests that do not exercise networking). */
  networks?: HostNetworks;
  /** Where tasks' secrets and configs are put (per-task tmpfs); without it a task using one fails. */
  payloadDirs?: PayloadDirs;
  /** Measurements for monitoring (container start latency, task failures). */
  instruments?: AgentInstruments;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 8000;
/** First retry of a container removal that failed (the engine can refuse while a mount is busy). */
const SWEEP_RETRY_MS = 2000;
const SWEEP_RETRY_MAX_MS = 30_000;

export class Agent {
  private runners = new Map<string, TaskRunner>();
  private session: AgentSession | undefined;
  private stopped = false;
  private unwatchEngine: (() => void) | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private pendingReports = new Map<string, TaskStatusUpdate>();
  private readonly limit = new Semaphore(8);
  private gotFullSet = false;
  private loopDone: Promise<void> = Promise.resolve();
  private sessionEnded: (() => void) | undefined;
  /** Task IDs of the last assignment set; anything else of ours on the engine is an orphan. */
  private assigned = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepDelayMs = SWEEP_RETRY_MS;
  /** The secrets and configs this node may hold now, in memory only (`kind:id` → data). */
  private held = new Map<string, AssignedPayload>();

  /** Which secrets and configs this node holds in memory now (`secret:ID`, never their data). */
  heldPayloads(): string[] {
    return [...this.held.keys()].sort();
  }

  /** This host's overlays (absent in tests without networking). */
  get networks(): HostNetworks | undefined {
    return this.o.networks;
  }

  constructor(private readonly o: AgentOptions) {}

  start(): void {
    this.unwatchEngine = this.o.executor.watch((taskId, event) => {
      // The engine says at once that a container died; its inspect may wait for the engine's cleanup
      // (network, mounts). The overlays here stop sending it new flows now, before the runner's report.
      if (event === 'die') this.o.networks?.taskEnded(taskId);
      this.runners.get(taskId)?.wake();
    });
    this.loopDone = this.sessionLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatchEngine?.();
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.sweepTimer);
    this.session?.close();
    this.sessionEnded?.();
    await this.loopDone;
    await Promise.all([...this.runners.values()].map((r) => r.halt()));
    this.runners.clear();
    await this.o.networks?.close();
  }

  /** Drops the current session so the next one goes to wherever the dispatcher is now (a new leader). */
  resetSession(): void {
    this.session?.close();
    this.sessionEnded?.();
  }

  /** Stops and removes every task container of this node (swarm leave). */
  async removeAllTasks(): Promise<void> {
    const runners = [...this.runners.values()];
    this.runners.clear();
    await Promise.all(runners.map((r) => r.dispose().catch(() => undefined)));
    for (const c of await this.o.executor.listManaged()) {
      await this.o.executor.stop(c.id, 1000).catch(() => undefined);
      await this.o.executor.remove(c.id).catch(() => undefined);
    }
    await this.o.networks?.removeAll();
  }

  private async sessionLoop(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (!this.stopped) {
      const endpoint = this.o.dispatcher();
      try {
        if (!endpoint) throw new Error('no manager available');
        const description = await this.o.executor.describe();
        const session = await endpoint.session({ nodeId: this.o.nodeId, description, addr: this.o.addr });
        backoff = BACKOFF_MIN_MS;
        await this.runSession(session);
      } catch (e) {
        if (!this.stopped) this.o.logger.debug('dispatcher session failed', { error: errorMessage(e) });
      }
      if (this.stopped) break;
      await new Promise((r) => setTimeout(r, backoff).unref());
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    }
  }

  private runSession(session: AgentSession): Promise<void> {
    this.session = session;
    return new Promise<void>((resolve) => {
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearTimeout(this.heartbeatTimer);
        if (this.session === session) this.session = undefined;
        this.sessionEnded = undefined;
        resolve();
      };
      this.sessionEnded = end;
      session.onClose((reason) => {
        this.o.logger.info('dispatcher session closed', { reason });
        end();
      });
      const beat = (periodMs: number): void => {
        // Jitter like swarmkit (±10%), so many nodes do not beat in lockstep.
        const delay = periodMs * (0.9 + 0.2 * Math.random());
        this.heartbeatTimer = setTimeout(() => {
          session.heartbeat().then(
            (r) => {
              beat(r.periodMs);
              if (r.role) this.o.onRole?.(r.role);
            },
            () => {
              session.close();
              end();
            },
          );
        }, delay);
      };
      beat(session.heartbeatPeriodMs);
      session.onAssignments((a) => this.assign(a));
      void this.flushReports();
    });
  }

  private assign(a: Assignments): void {
    const seen = new Set<string>();
    for (const t of a.tasks) {
      seen.add(t.ID);
      const r = this.runners.get(t.ID);
      if (r) r.update(t);
      else this.runners.set(t.ID, this.newRunner(t));
    }
    for (const [id, r] of this.runners) {
      if (seen.has(id)) continue;
      this.runners.delete(id);
      void r
        .dispose()
        .then(() => this.o.payloadDirs?.release(id))
        .catch((e: unknown) => {
          this.o.logger.warn('removing task container failed; will retry', { task: id, error: errorMessage(e) });
          this.scheduleSweep();
        });
    }
    this.assigned = seen;
    // The set is complete: a secret no task of ours needs any more is forgotten here.
    this.held = new Map(a.payloads.map((p) => [`${p.kind}:${p.id}`, p]));
    this.o.networks?.update(a.networks, a.tasks);
    if (!this.gotFullSet) {
      this.gotFullSet = true;
      void this.removeOrphans();
    }
  }

  private scheduleSweep(): void {
    if (this.sweepTimer || this.stopped) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      void this.removeOrphans();
    }, this.sweepDelayMs);
    this.sweepTimer.unref();
  }

  /**
   * Containers of this node's tasks that are no longer assigned are removed. A removal that fails is
   * retried with backoff, so a container never outlives its task for good.
   */
  private async removeOrphans(): Promise<void> {
    let failed = false;
    try {
      for (const c of await this.o.executor.listManaged()) {
        if (this.assigned.has(c.taskId) || this.runners.has(c.taskId)) continue;
        this.o.logger.info('removing container of a task no longer assigned', { container: c.id, task: c.taskId });
        try {
          await this.o.executor.stop(c.id, 1000);
          await this.o.executor.remove(c.id);
          await this.o.payloadDirs?.release(c.taskId);
        } catch (e) {
          failed = true;
          this.o.logger.warn('removing orphan container failed', { container: c.id, error: errorMessage(e) });
        }
      }
      // Secret tmpfs left by a crash, or by a task whose container is already gone.
      if (!failed) await this.o.payloadDirs?.sweep(new Set([...this.assigned, ...this.runners.keys()]));
    } catch (e) {
      failed = true;
      this.o.logger.warn('orphan cleanup failed', { error: errorMessage(e) });
    }
    if (failed) {
      this.sweepDelayMs = Math.min(this.sweepDelayMs * 2, SWEEP_RETRY_MAX_MS);
      this.scheduleSweep();
    } else {
      this.sweepDelayMs = SWEEP_RETRY_MS;
    }
  }

  private newRunner(t: TaskObject): TaskRunner {
    return new TaskRunner(
      t,
      this.o.executor,
      (taskId, status) => this.reportStatus(taskId, status),
      this.limit,
      this.o.logger.child('task'),
      this.o.now ?? Date.now,
      (task) => this.prepareTask(task),
      this.o.instruments,
    );
  }

  /** The task as its container is created: networks plumbed, secrets and configs mounted. */
  private async prepareTask(task: TaskObject): Promise<TaskObject> {
    const t = this.o.networks ? await this.o.networks.prepare(task) : task;
    const files = payloadFilesOf(t, this.held);
    if (files.length === 0) return t;
    if (!this.o.payloadDirs) throw new Error('this node cannot hold secrets or configs (no secrets directory)');
    return withPayloadMounts(t, await this.o.payloadDirs.prepare(t.ID, files), files);
  }

  private reportStatus(taskId: string, status: TaskStatus): void {
    // The container ended: this host's overlays stop sending it flows before the managers know.
    if (stateRank(status.State) >= stateRank('complete')) this.o.networks?.taskEnded(taskId);
    this.pendingReports.set(taskId, { taskId, status });
    void this.flushReports();
  }

  private async flushReports(): Promise<void> {
    const session = this.session;
    if (!session || this.pendingReports.size === 0) return;
    const batch = [...this.pendingReports.values()];
    this.pendingReports.clear();
    try {
      await session.updateStatus(batch);
    } catch {
      // Keep the newest report per task for the next session.
      for (const b of batch) if (!this.pendingReports.has(b.taskId)) this.pendingReports.set(b.taskId, b);
    }
  }
}
