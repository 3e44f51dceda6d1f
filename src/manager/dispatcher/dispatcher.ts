/**
 * The dispatcher: one session per node. It marks nodes ready on session start and down when their
 * heartbeats stop (period × grace), streams each node its assignments, and writes the status its
 * agents report in batches. Runs on the leader.
 */
import { sameValue } from '../../common/canonical.js';
import type { Clock } from '../../common/clock.js';
import { ShoalError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import type { Logger } from '../../common/logging.js';
import type { Random } from '../../common/random.js';
import type { ReadTx, Store } from '../../store/store.js';
import { Reconciler } from '../reconciler.js';
import { stateRank, type NodeObject, type TaskObject } from '../../store/types.js';
import { networkViewFor } from './network-view.js';
import { payloadsFor, payloadsKey, type PayloadSources } from './payload-view.js';
import type { AgentSession, Assignments, DispatcherEndpoint, SessionRequest, TaskStatusUpdate } from './session.js';

export const DEFAULT_HEARTBEAT_PERIOD_MS = 5000;
export const HEARTBEAT_GRACE = 3;
/** Assignment changes within this window go to a node as one message (a replacement waits no longer). */
const ASSIGNMENT_BATCH_MS = 25;
/** Status reports within this window become one store write (a Running state shows without delay). */
const STATUS_BATCH_MS = 25;

interface NodeSession {
  id: string;
  nodeId: string;
  listeners: ((a: Assignments) => void)[];
  closeListeners: ((reason: string) => void)[];
  lastSent: string;
  cancelExpiry: (() => void) | undefined;
  closed: boolean;
  /** When the session started or last heartbeat arrived (clock ms). */
  lastBeat: number;
}

/** Sends every session its assignments when tasks (or the cluster) change, batched over a short window. */
class AssignmentFanout extends Reconciler {
  constructor(
    store: Store,
    clock: Clock,
    logger: Logger,
    private readonly sessions: () => Iterable<NodeSession>,
  ) {
    super('assignments', store, clock, logger, ASSIGNMENT_BATCH_MS);
  }

  protected override interested(table: string): boolean {
    return (
      table === 'task' ||
      table === 'cluster' ||
      table === 'service' ||
      table === 'network' ||
      table === 'node' ||
      table === 'secret' ||
      table === 'config'
    );
  }

  protected async reconcile(): Promise<void> {
    const all = this.store.view(clusterView);
    for (const s of this.sessions()) {
      const a = assignmentsOf(s.nodeId, all);
      const key =
        a.tasks.map((t) => `${t.ID}:${t.Version.Index}`).join(',') +
        JSON.stringify(a.networks) +
        payloadsKey(a.payloads);
      if (key === s.lastSent) continue;
      s.lastSent = key;
      for (const cb of s.listeners) cb(a);
    }
  }
}

type ClusterView = Parameters<typeof networkViewFor>[2] & PayloadSources;

function clusterView(tx: ReadTx): ClusterView {
  return {
    tasks: tx.all('task'),
    services: tx.all('service'),
    networks: tx.all('network'),
    nodes: tx.all('node'),
    clusters: tx.all('cluster'),
    secrets: tx.all('secret'),
    configs: tx.all('config'),
  };
}

function assignmentsOf(nodeId: string, all: ClusterView): Assignments {
  const tasks = assignmentsFor(nodeId, all.tasks);
  return { tasks, networks: networkViewFor(nodeId, tasks, all), payloads: payloadsFor(tasks, all) };
}

/** Tasks a node must see: assigned to it and past scheduling. */
export function assignmentsFor(nodeId: string, tasks: readonly TaskObject[]): TaskObject[] {
  return tasks.filter((t) => t.NodeID === nodeId && stateRank(t.Status.State) >= stateRank('assigned'));
}

export class Dispatcher implements DispatcherEndpoint {
  private sessions = new Map<string, NodeSession>();
  private pendingStatus = new Map<string, { nodeId: string; update: TaskStatusUpdate }>();
  private statusTimer: (() => void) | undefined;
  private readonly fanout: AssignmentFanout;
  private statusFlush: Promise<void> = Promise.resolve();
  private running = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly logger: Logger,
    /** Told how late each heartbeat came (seconds past the period since the previous one; 0 if on time). */
    private readonly observeHeartbeat?: (lateSeconds: number) => void,
  ) {
    this.fanout = new AssignmentFanout(store, clock, logger, () => this.sessions.values());
  }

  run(): void {
    this.running = true;
    this.fanout.run();
    // A new leader gives every node one full grace period to show up before it is marked down.
    const nodes = this.store.view((tx) => tx.all('node'));
    for (const n of nodes) if (n.Status.State !== 'down') this.armExpiry(n.ID, undefined);
  }

  stop(): void {
    this.running = false;
    this.fanout.stop();
    this.statusTimer?.();
    for (const s of this.sessions.values()) this.endSession(s, 'dispatcher stopped');
    for (const c of this.expiries.values()) c();
    this.expiries.clear();
  }

  /** Agent sessions open on this dispatcher now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  heartbeatPeriodMs(): number {
    const c = this.store.view((tx) => tx.all('cluster')[0]);
    const ns = c?.Spec.Dispatcher.HeartbeatPeriod;
    return ns ? Math.floor(ns / 1e6) : DEFAULT_HEARTBEAT_PERIOD_MS;
  }

  async session(req: SessionRequest): Promise<AgentSession> {
    if (!this.running) throw new ShoalError('unavailable', 'dispatcher is not running on this manager');
    const node = this.store.view((tx) => tx.get('node', req.nodeId));
    if (!node) throw new ShoalError('not_found', `node ${req.nodeId} not found`);
    for (const s of this.sessions.values())
      if (s.nodeId === req.nodeId) this.endSession(s, 'superseded by a new session');
    await this.store.update((tx) => {
      const cur = tx.get('node', req.nodeId);
      if (!cur) throw new ShoalError('not_found', `node ${req.nodeId} not found`);
      const status: NodeObject['Status'] = { State: 'ready', Addr: req.addr };
      // Written only when something changed: a client's `?version=` must not move by itself.
      if (sameValue(cur.Description, req.description) && sameValue(cur.Status, status)) return;
      tx.update('node', { ...cur, Description: req.description, Status: status });
    });
    const s: NodeSession = {
      id: newId(this.random),
      nodeId: req.nodeId,
      listeners: [],
      closeListeners: [],
      lastSent: '',
      cancelExpiry: undefined,
      closed: false,
      lastBeat: this.clock.now(),
    };
    this.sessions.set(s.id, s);
    this.armExpiry(req.nodeId, s);
    const period = this.heartbeatPeriodMs();
    return {
      sessionId: s.id,
      heartbeatPeriodMs: period,
      onAssignments: (cb) => {
        s.listeners.push(cb);
        cb(this.currentAssignments(s.nodeId));
      },
      onClose: (cb) => s.closeListeners.push(cb),
      updateStatus: (updates) => this.updateStatus(s, updates),
      heartbeat: async () => {
        if (s.closed) throw new ShoalError('unavailable', 'session closed');
        const now = this.clock.now();
        this.observeHeartbeat?.(Math.max(0, now - s.lastBeat - this.heartbeatPeriodMs()) / 1000);
        s.lastBeat = now;
        this.armExpiry(s.nodeId, s);
        await this.markReady(s.nodeId);
        const role = this.store.view((tx) => tx.get('node', s.nodeId))?.Spec.Role;
        return { periodMs: this.heartbeatPeriodMs(), role };
      },
      close: () => this.endSession(s, 'closed by agent'),
    };
  }

  /** A node that leaves the swarm is down at once, not after its heartbeats expire. */
  async nodeLeft(nodeId: string): Promise<void> {
    for (const s of [...this.sessions.values()]) if (s.nodeId === nodeId) this.endSession(s, 'node left the swarm');
    this.expiries.get(nodeId)?.();
    this.expiries.delete(nodeId);
    await this.store.update((tx) => {
      const cur = tx.get('node', nodeId);
      if (cur && cur.Status.State !== 'down')
        tx.update('node', { ...cur, Status: { ...cur.Status, State: 'down', Message: 'node left the swarm' } });
    });
  }

  private expiries = new Map<string, () => void>();

  private armExpiry(nodeId: string, s: NodeSession | undefined): void {
    this.expiries.get(nodeId)?.();
    const grace = this.heartbeatPeriodMs() * HEARTBEAT_GRACE;
    this.expiries.set(
      nodeId,
      this.clock.setTimer(grace, () => {
        this.expiries.delete(nodeId);
        if (s) this.endSession(s, 'heartbeat expired');
        void this.markDown(nodeId).catch((e: unknown) =>
          this.logger.warn('marking node down failed', { nodeId, error: String(e) }),
        );
      }),
    );
  }

  private async markReady(nodeId: string): Promise<void> {
    const node = this.store.view((tx) => tx.get('node', nodeId));
    if (!node || node.Status.State === 'ready') return;
    await this.store.update((tx) => {
      const cur = tx.get('node', nodeId);
      if (cur && cur.Status.State !== 'ready')
        tx.update('node', { ...cur, Status: { ...cur.Status, State: 'ready', Message: undefined } });
    });
  }

  private async markDown(nodeId: string): Promise<void> {
    if (!this.running) return;
    this.logger.info('node missed its heartbeats; marking it down', { nodeId });
    await this.store.update((tx) => {
      const cur = tx.get('node', nodeId);
      if (cur && cur.Status.State !== 'down') {
        tx.update('node', { ...cur, Status: { ...cur.Status, State: 'down', Message: 'heartbeat failure' } });
      }
    });
  }

  private endSession(s: NodeSession, reason: string): void {
    if (s.closed) return;
    s.closed = true;
    this.sessions.delete(s.id);
    for (const cb of s.closeListeners) cb(reason);
  }

  private currentAssignments(nodeId: string): Assignments {
    return this.store.view((tx) => assignmentsOf(nodeId, clusterView(tx)));
  }

  private updateStatus(s: NodeSession, updates: readonly TaskStatusUpdate[]): Promise<void> {
    if (s.closed) return Promise.reject(new ShoalError('unavailable', 'session closed'));
    for (const u of updates) this.pendingStatus.set(u.taskId, { nodeId: s.nodeId, update: u });
    if (!this.statusTimer) {
      this.statusTimer = this.clock.setTimer(STATUS_BATCH_MS, () => {
        this.statusTimer = undefined;
        this.statusFlush = this.statusFlush.then(() => this.flushStatus());
      });
    }
    return Promise.resolve();
  }

  /** Writes batched status reports; a report may only move a task's state forward. */
  private async flushStatus(): Promise<void> {
    const batch = [...this.pendingStatus.values()];
    this.pendingStatus.clear();
    if (batch.length === 0) return;
    try {
      await this.store.update((tx) => {
        for (const { nodeId, update } of batch) {
          const cur = tx.get('task', update.taskId);
          if (!cur || cur.NodeID !== nodeId) continue;
          if (stateRank(update.status.State) < stateRank(cur.Status.State)) continue;
          if (JSON.stringify(cur.Status) === JSON.stringify(update.status)) continue;
          const next = { ...cur, Status: update.status };
          if (update.status.State === 'running' && cur.Status.State !== 'running') next.RunningAt = tx.now;
          tx.update('task', next);
        }
      });
    } catch (e) {
      this.logger.warn('writing task status failed; will retry', { error: String(e) });
      for (const b of batch) if (!this.pendingStatus.has(b.update.taskId)) this.pendingStatus.set(b.update.taskId, b);
      this.statusTimer ??= this.clock.setTimer(500, () => {
        this.statusTimer = undefined;
        this.statusFlush = this.statusFlush.then(() => this.flushStatus());
      });
    }
  }
}
