/**
 * Rolling updates and rollbacks, decided afresh on every orchestrator pass from what the store holds,
 * so a new leader resumes an update where the old one left it. Slots are replaced `parallelism` at a
 * time (stop-first or start-first), `delay` apart; a replacement that fails within the monitor window
 * counts against `max_failure_ratio`, past which the failure action pauses, continues or rolls back.
 */
import type { Random } from '../../common/random.js';
import type { WriteTx } from '../../store/store.js';
import type { NodeObject, ServiceObject, TaskObject, UpdateState } from '../../store/types.js';
import { isDirty } from './dirty.js';
import { hasEnded, isRunnable, type Slot } from './slots.js';
import { newTask } from './task-factory.js';
import { effectiveUpdateConfig, isRollingBack } from './update-config.js';

export interface RolloutInput {
  tx: WriteTx;
  service: ServiceObject;
  slots: Map<string, Slot>;
  nodes: Map<string, NodeObject>;
  random: Random;
  global: boolean;
  /** Whether a global service may run on a node. */
  eligible: (node: NodeObject | undefined) => boolean;
}

/** A replacement the updater created for the current spec. */
function isUpdateTask(t: TaskObject, service: ServiceObject): boolean {
  return t.Origin === 'update' && t.SpecVersion === service.SpecVersion;
}

/**
 * A task of the current spec started during the rollout by the restart logic (e.g. the slot whose
 * new task failed, restarted with the rolled-back spec): the rollout is not complete until it runs
 * and has been watched for the monitor window, though its failures are not the update's.
 */
function isRestartDuringRollout(t: TaskObject, service: ServiceObject, startedAt: number): boolean {
  return (
    t.Origin !== 'update' &&
    t.SpecVersion === service.SpecVersion &&
    t.CreatedAt >= startedAt &&
    t.DesiredState === 'running'
  );
}

/** Returns the earliest time the rollout needs another look (Infinity if none). */
export function rollOut(o: RolloutInput): number {
  const { tx, slots, nodes } = o;
  let service = o.service;
  const now = tx.now;
  const state = service.UpdateStatus?.State;
  if (state === 'paused' || state === 'rollback_paused') return Infinity;
  const cfg = effectiveUpdateConfig(service);
  let wake = Infinity;

  // Tasks whose only difference is a placement their node still satisfies are brought up to date in place.
  const dirty: { slot: Slot; old: TaskObject }[] = [];
  const beingReplaced = new Set<string>();
  for (const slot of slots.values()) {
    for (const t of slot.tasks) {
      if (isRunnable(t) && isUpdateTask(t, service) && t.Restarts?.PreviousTaskID)
        beingReplaced.add(t.Restarts.PreviousTaskID);
    }
  }
  for (const slot of slots.values()) {
    // The slot as this transaction sees it: the restart step of this same pass may have shut a task
    // down and given the slot a replacement of the current spec already.
    const current = slot.tasks.map((t) => tx.get('task', t.ID) ?? t);
    const hasCurrent = current.some(
      (t) => isRunnable(t) && !hasEnded(t) && t.SpecVersion === service.SpecVersion && !beingReplaced.has(t.ID),
    );
    for (const t of current) {
      // A waiting restart replacement ('ready') of an older spec is as dirty as a running task: a
      // rollback must not leave a slot waiting out a restart delay for an image it abandoned.
      const live = t.DesiredState === 'running' || t.DesiredState === 'ready';
      if (!live || t.SpecVersion === service.SpecVersion || beingReplaced.has(t.ID)) continue;
      if (hasCurrent) {
        // The slot already runs (or waits to run) the current spec: an older task beside it is
        // surplus, never a reason for a second replacement.
        tx.update('task', { ...t, DesiredState: 'shutdown' });
        continue;
      }
      const node = t.NodeID ? nodes.get(t.NodeID) : undefined;
      if (!isDirty(t, service, node)) {
        tx.update('task', {
          ...(tx.get('task', t.ID) ?? t),
          SpecVersion: service.SpecVersion,
          Spec: structuredClone(service.Spec.TaskTemplate),
        });
        continue;
      }
      if (o.global && !o.eligible(node)) continue;
      dirty.push({ slot, old: t });
      break;
    }
  }

  // Replacements of this update: busy until running and `delay` has passed; watched for `monitor`.
  const startedAt = service.UpdateStatus?.StartedAt ?? 0;
  const allTasks = [...slots.values()].flatMap((s) => s.tasks);
  const updateTasks = allTasks.filter((t) => isUpdateTask(t, service) && t.CreatedAt >= startedAt);
  let busy = 0;
  let monitoring = false;
  let failure: TaskObject | undefined;
  let failures = 0;
  const rollingOut = state === 'updating' || state === 'rollback_started';
  for (const t of rollingOut ? allTasks.filter((x) => isRestartDuringRollout(x, service, startedAt)) : []) {
    if (hasEnded(t) || !isRunnable(t)) continue;
    if (t.Status.State !== 'running' || t.RunningAt === undefined) {
      monitoring = true;
      continue;
    }
    if (now < t.RunningAt + cfg.monitorMs) {
      monitoring = true;
      wake = Math.min(wake, t.RunningAt + cfg.monitorMs);
    }
  }
  for (const t of updateTasks) {
    const ranAt = t.RunningAt;
    if (hasEnded(t)) {
      const endedAt = t.Status.Timestamp;
      const failedEarly = t.DesiredState !== 'shutdown' || t.Status.State !== 'shutdown';
      if (failedEarly && (ranAt === undefined || endedAt - ranAt <= cfg.monitorMs)) {
        failures++;
        failure ??= t;
      }
      // The delay follows every replaced slot, also one whose new task failed (swarmkit's workers
      // sleep `delay` after each slot however it ended).
      if (t.Origin === 'update' && now < endedAt + cfg.delayMs) {
        busy++;
        wake = Math.min(wake, endedAt + cfg.delayMs);
      }
      continue;
    }
    if (!isRunnable(t)) continue;
    if (t.Status.State !== 'running' || ranAt === undefined) {
      busy++;
      continue;
    }
    if (now < ranAt + cfg.delayMs) {
      busy++;
      wake = Math.min(wake, ranAt + cfg.delayMs);
    }
    if (now < ranAt + cfg.monitorMs) {
      monitoring = true;
      wake = Math.min(wake, ranAt + cfg.monitorMs);
    }
    // start-first: the task it replaces stops once the replacement runs.
    const prev = t.Restarts?.PreviousTaskID ? tx.get('task', t.Restarts.PreviousTaskID) : undefined;
    if (prev && prev.DesiredState === 'running') tx.update('task', { ...prev, DesiredState: 'shutdown' });
  }

  const rollingBack = isRollingBack(service);
  const active = dirty.length > 0 || busy > 0 || monitoring;
  if (
    active &&
    (state === undefined || state === 'completed' || state === 'rollback_completed') &&
    service.PreviousSpec
  ) {
    service = setStatus(tx, service, 'updating', 'update in progress', { StartedAt: now });
  }

  // Failure action, once failures exceed max_failure_ratio of the slots this update has to change
  // (swarmkit divides by all dirty slots, not by the tasks replaced so far: with 7 replicas and a
  // ratio of 0.5, a first batch of 2 failures goes on and the second pauses, as seed 004 saw).
  const slotKey = (t: TaskObject): string => (o.global ? (t.NodeID ?? t.ID) : String(t.Slot));
  const touched = new Set(updateTasks.map(slotKey));
  const slotsToChange = touched.size + dirty.filter((d) => !touched.has(d.slot.key)).length;
  if (failure && slotsToChange > 0 && failures / slotsToChange > cfg.maxFailureRatio) {
    const why = `failure or early termination of task ${failure.ID}`;
    if (cfg.failureAction === 'pause') {
      // Swarm words it "update paused" during a rollback too; only the state says rollback_paused.
      setStatus(tx, service, rollingBack ? 'rollback_paused' : 'paused', `update paused due to ${why}`);
      return wake;
    }
    if (cfg.failureAction === 'rollback' && !rollingBack && service.PreviousSpec) {
      const cur = tx.get('service', service.ID) ?? service;
      // As swarm: the failed spec is dropped, not kept as PreviousSpec.
      const { PreviousSpec: _dropped, ...rest } = cur;
      tx.update('service', {
        ...rest,
        Spec: structuredClone(service.PreviousSpec),
        SpecVersion: cur.SpecVersion + 1,
        UpdateStatus: { State: 'rollback_started', StartedAt: now, Message: `update rolled back due to ${why}` },
      });
      return now;
    }
  }

  let budget = cfg.parallelism === 0 ? Infinity : Math.max(0, cfg.parallelism - busy);
  dirty.sort((a, b) => a.slot.slot - b.slot.slot || (a.slot.key < b.slot.key ? -1 : 1));
  for (const { slot, old } of dirty) {
    if (budget <= 0) break;
    const startFirst = cfg.order === 'start-first';
    if (!startFirst) tx.update('task', { ...(tx.get('task', old.ID) ?? old), DesiredState: 'shutdown' });
    const replacement = newTask(service, o.random, {
      slot: slot.slot,
      nodeId: o.global ? old.NodeID : undefined,
      desired: startFirst ? 'running' : 'ready',
      now,
      promoteAfter: now,
      previous: old,
      origin: 'update',
    });
    tx.create('task', replacement);
    slot.tasks.unshift(replacement);
    budget--;
  }

  if (!active && (state === 'updating' || state === 'rollback_started')) {
    setStatus(
      tx,
      service,
      state === 'updating' ? 'completed' : 'rollback_completed',
      state === 'updating' ? 'update completed' : 'rollback completed',
      {
        CompletedAt: now,
      },
    );
  }
  return wake;
}

function setStatus(
  tx: WriteTx,
  service: ServiceObject,
  state: UpdateState,
  message: string,
  times: { StartedAt?: number; CompletedAt?: number } = {},
): ServiceObject {
  const cur = tx.get('service', service.ID) ?? service;
  const next: ServiceObject = {
    ...cur,
    UpdateStatus: { StartedAt: cur.UpdateStatus?.StartedAt, ...times, State: state, Message: message },
  };
  tx.update('service', next);
  return next;
}
