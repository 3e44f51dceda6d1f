/**
 * Keeps every service converged: replicated services have one runnable task per slot, global services
 * one per eligible node. Ended tasks are replaced under the restart policy, tasks of an older spec are
 * replaced one slot at a time (stop-first), and replacements wait as `ready` until their delay has
 * passed and their predecessor has stopped. Jobs run to completion (`jobs/`). Runs on the leader, on
 * store events and timers.
 */
import type { Clock } from '../../common/clock.js';
import type { NodeId } from '../../common/ids.js';
import type { Logger } from '../../common/logging.js';
import type { Random } from '../../common/random.js';
import type { StoreEvent } from '../../store/actions.js';
import type { Store, WriteTx } from '../../store/store.js';
import type { NodeObject, ServiceObject, TaskObject } from '../../store/types.js';
import { Reconciler } from '../reconciler.js';
import { constraintsHold, parseConstraints } from '../scheduler/constraint.js';
import { reconcileGlobalJob } from './jobs/global-job.js';
import { reconcileReplicatedJob } from './jobs/replicated-job.js';
import { promoteWaiting } from './promotion.js';
import { restartDelayMs, shouldRestart } from './restart.js';
import { groupSlots, hasEnded, isRunnable, type Slot } from './slots.js';
import { newTask } from './task-factory.js';
import { rollOut } from './updater.js';

/**
 * At most this many tasks are created (or marked for removal) by one orchestrator transaction: a
 * service asking for many replicas is brought up over several Raft entries, so neither the leader's
 * memory nor an entry's size grows with the replica count, and every later leader does the same.
 */
export const MAX_TASK_WRITES_PER_TX = 500;

/** How many scaling writes the current transaction may still make. */
interface Budget {
  left: number;
}

export function isGlobal(s: ServiceObject): boolean {
  return 'Global' in s.Spec.Mode;
}

export function replicasOf(s: ServiceObject): number {
  return 'Replicated' in s.Spec.Mode ? (s.Spec.Mode.Replicated.Replicas ?? 1) : 0;
}

/** Nodes a global service runs on: up, not drained, constraints hold. `pause` keeps existing tasks. */
function globalEligible(s: ServiceObject, n: NodeObject, forNewTask: boolean): boolean {
  if (n.Status.State === 'down' || n.Spec.Availability === 'drain') return false;
  if (forNewTask && n.Spec.Availability === 'pause') return false;
  return constraintsHold(parseConstraints(s.Spec.TaskTemplate.Placement?.Constraints ?? []), n);
}

export class Orchestrator extends Reconciler {
  /** Earliest time a waiting replacement may be promoted; drives the timer. */
  private nextWake = Infinity;
  private cancelWake: (() => void) | undefined;

  constructor(
    store: Store,
    clock: Clock,
    private readonly random: Random,
    logger: Logger,
  ) {
    super('orchestrator', store, clock, logger, 20);
  }

  override stop(): void {
    super.stop();
    this.cancelWake?.();
  }

  protected override interested(table: string, _e: StoreEvent): boolean {
    return table === 'service' || table === 'task' || table === 'node' || table === 'cluster';
  }

  protected async reconcile(): Promise<void> {
    let wake = Infinity;
    const budget: Budget = { left: MAX_TASK_WRITES_PER_TX };
    await this.store.update((tx) => {
      budget.left = MAX_TASK_WRITES_PER_TX; // a retried transaction starts afresh
      const nodes = new Map(tx.all('node').map((n) => [n.ID as string, n]));
      const tasksByService = new Map<string, TaskObject[]>();
      for (const t of tx.all('task')) {
        const list = tasksByService.get(t.ServiceID) ?? [];
        list.push(t);
        tasksByService.set(t.ServiceID, list);
      }
      for (const service of tx.all('service')) {
        const tasks = tasksByService.get(service.ID) ?? [];
        const job = { tx, service, tasks, nodes, random: this.random };
        if ('ReplicatedJob' in service.Spec.Mode) wake = Math.min(wake, reconcileReplicatedJob(job));
        else if ('GlobalJob' in service.Spec.Mode) wake = Math.min(wake, reconcileGlobalJob(job));
        else wake = Math.min(wake, this.reconcileService(tx, service, tasks, nodes, budget));
      }
    });
    // The batch is committed; the next one goes in its own transaction.
    if (budget.left <= 0) this.kick(0);
    this.armWake(wake);
  }

  private armWake(at: number): void {
    if (at === Infinity || at >= this.nextWake) return;
    this.cancelWake?.();
    this.nextWake = at;
    this.cancelWake = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => {
      this.nextWake = Infinity;
      this.cancelWake = undefined;
      this.kick(0);
    });
  }

  /** Returns the earliest future time this service needs another look (Infinity if none). */
  private reconcileService(
    tx: WriteTx,
    service: ServiceObject,
    tasks: TaskObject[],
    nodes: Map<string, NodeObject>,
    budget: Budget,
  ): number {
    const global = isGlobal(service);
    const slots = groupSlots(tasks, global);
    const now = tx.now;
    let wake = Infinity;
    const nodeDown = (t: TaskObject): boolean => Boolean(t.NodeID) && nodes.get(t.NodeID!)?.Status.State === 'down';
    // A drained node's tasks are moved like a dead node's (their containers are stopped by its agent).
    const nodeGone = (t: TaskObject): boolean =>
      nodeDown(t) || (Boolean(t.NodeID) && nodes.get(t.NodeID!)?.Spec.Availability === 'drain');
    // A task whose placement constraints no longer hold on its node (labels changed) is moved, as
    // swarm's constraint enforcer does.
    const misplaced = (t: TaskObject): boolean => {
      const n = t.NodeID ? nodes.get(t.NodeID) : undefined;
      const c = t.Spec.Placement?.Constraints;
      return Boolean(n && c?.length) && !constraintsHold(parseConstraints(c!), n!);
    };
    // Global tasks on drained nodes are shut down without replacement (step 3 below).
    const nodeLost = (t: TaskObject): boolean =>
      t.NodeID !== undefined && (!nodes.has(t.NodeID) || (global ? nodeDown(t) : nodeGone(t) || misplaced(t)));

    // 1. Replace tasks that ended (or whose node died) under the restart policy.
    for (const slot of slots.values()) {
      for (const t of [...slot.tasks]) {
        if (t.DesiredState !== 'running' && t.DesiredState !== 'ready') continue;
        // A waiting replacement that already failed (e.g. its image is missing) counts as an attempt too.
        const withNode = !hasEnded(t) && t.DesiredState === 'running' && nodeLost(t);
        const lost = hasEnded(t) || withNode;
        if (!lost) continue;
        tx.update('task', { ...t, DesiredState: 'shutdown' });
        const eligibleNode =
          !global || (t.NodeID && nodes.get(t.NodeID) && globalEligible(service, nodes.get(t.NodeID)!, false));
        // Another live task in the slot (a waiting replacement, a start-first successor) takes over.
        const waiting = slot.tasks.some((o) => o.ID !== t.ID && isRunnable(o) && !hasEnded(o));
        if (eligibleNode && !waiting && shouldRestart(service, t, now)) {
          const replacement = newTask(service, this.random, {
            slot: slot.slot,
            nodeId: global ? t.NodeID : undefined,
            desired: 'ready',
            now,
            // A task of an older spec (e.g. the new image a rollback just abandoned) is replaced by the
            // current spec at once, as swarm's updater replaces a dirty slot; the delay is for retrying
            // the same spec.
            // A task lost with its node did not crash: its replacement starts at once.
            promoteAfter: t.SpecVersion === service.SpecVersion && !withNode ? now + restartDelayMs(service) : now,
            previous: t,
            origin: 'restart',
          });
          tx.create('task', replacement);
          slot.tasks.unshift(replacement);
        }
      }
    }

    // 2. Roll tasks of an older spec forward under the update (or rollback) policy.
    wake = Math.min(
      wake,
      rollOut({
        tx,
        service,
        slots,
        nodes,
        random: this.random,
        global,
        eligible: (n) => Boolean(n) && globalEligible(service, n!, false),
      }),
    );

    // 3. Promote waiting replacements whose delay passed and whose predecessors stopped.
    const all = [...slots.values()].flatMap((s) => s.tasks);
    wake = Math.min(wake, promoteWaiting({ tx, tasks: all, nodeDown, to: 'running' }));

    // 4. Scale: add missing slots, remove surplus ones.
    if (global) this.reconcileGlobal(tx, service, slots, nodes);
    else this.reconcileReplicated(tx, service, slots, budget);
    return wake;
  }

  private reconcileReplicated(tx: WriteTx, service: ServiceObject, slots: Map<string, Slot>, budget: Budget): void {
    const want = replicasOf(service);
    const occupied = [...slots.values()].filter((s) => {
      if (s.tasks.some(isRunnable)) return true;
      const newest = s.tasks[0];
      // A slot whose last task ended and may not restart stays as it is (restart condition none,
      // attempts used up). Judged as of when it ended: the decision does not lapse with the Window.
      return (
        newest !== undefined &&
        newest.DesiredState === 'shutdown' &&
        hasEnded(newest) &&
        !shouldRestart(service, newest, newest.Status.Timestamp)
      );
    });
    if (occupied.length < want) {
      const used = new Set(occupied.map((s) => s.slot));
      let next = 1;
      for (let i = occupied.length; i < want && budget.left > 0; i++, budget.left--) {
        while (used.has(next)) next++;
        used.add(next);
        tx.create(
          'task',
          newTask(service, this.random, { slot: next, desired: 'running', now: tx.now, origin: 'slot' }),
        );
      }
    } else if (occupied.length > want) {
      const isRunning = (s: Slot): boolean => s.tasks.some((t) => isRunnable(t) && t.Status.State === 'running');
      const victims = [...occupied]
        .sort((a, b) => Number(isRunning(a)) - Number(isRunning(b)) || b.slot - a.slot)
        .slice(0, Math.min(occupied.length - want, Math.max(0, budget.left)));
      budget.left -= victims.length;
      for (const s of victims) {
        for (const t of s.tasks)
          if (t.DesiredState !== 'remove')
            tx.update('task', { ...(tx.get('task', t.ID) ?? t), DesiredState: 'remove' });
      }
    }
  }

  private reconcileGlobal(
    tx: WriteTx,
    service: ServiceObject,
    slots: Map<string, Slot>,
    nodes: Map<string, NodeObject>,
  ): void {
    for (const node of nodes.values()) {
      const slot = slots.get(node.ID);
      const runnable = slot?.tasks.some(isRunnable) ?? false;
      if (runnable) continue;
      const newest = slot?.tasks[0];
      if (
        newest &&
        newest.DesiredState === 'shutdown' &&
        hasEnded(newest) &&
        !shouldRestart(service, newest, newest.Status.Timestamp)
      )
        continue;
      if (!globalEligible(service, node, true)) continue;
      tx.create(
        'task',
        newTask(service, this.random, {
          slot: 0,
          nodeId: node.ID as NodeId,
          desired: 'running',
          now: tx.now,
          origin: 'slot',
        }),
      );
    }
    // Tasks on nodes that can no longer run the service are shut down, not restarted.
    for (const slot of slots.values()) {
      const node = nodes.get(slot.key);
      if (node && globalEligible(service, node, false)) continue;
      for (const t of slot.tasks) {
        if (isRunnable(t)) tx.update('task', { ...(tx.get('task', t.ID) ?? t), DesiredState: 'shutdown' });
      }
    }
  }
}
