/**
 * What replicated and global jobs share: which tasks belong to the current run, retiring tasks of
 * earlier runs, and retrying failed tasks under the restart policy. A job task is told to run to
 * completion (desired `complete`, as swarmkit); one that exits 0 reaches `complete` and stays there.
 */
import type { Random } from '../../../common/random.js';
import type { WriteTx } from '../../../store/store.js';
import { isTerminal, type NodeObject, type ServiceObject, type TaskObject } from '../../../store/types.js';
import { restartDelayMs, shouldRestart } from '../restart.js';
import { hasEnded } from '../slots.js';
import { newTask } from '../task-factory.js';

export interface JobInput {
  tx: WriteTx;
  service: ServiceObject;
  /** Every task of the service. */
  tasks: readonly TaskObject[];
  nodes: ReadonlyMap<string, NodeObject>;
  random: Random;
}

export function currentIteration(service: ServiceObject): number {
  return service.JobStatus?.JobIteration.Index ?? 0;
}

/** A job task still meant to run to completion, now or once its restart delay passed. */
export function isLiveJobTask(t: TaskObject): boolean {
  return t.DesiredState === 'complete' || t.DesiredState === 'ready';
}

/** The task as this transaction sees it (earlier steps of the pass may have changed it). */
export function fresh(tx: WriteTx, t: TaskObject): TaskObject {
  return tx.get('task', t.ID) ?? t;
}

export function nodeDownCheck(nodes: ReadonlyMap<string, NodeObject>): (t: TaskObject) => boolean {
  return (t) => t.NodeID !== undefined && nodes.get(t.NodeID)?.Status.State === 'down';
}

/**
 * Tasks of earlier runs are removed: a replicated job's still-running ones (its finished ones stay
 * as history), all of a global job's (swarmkit does the same for each).
 */
export function retireEarlierRuns(o: JobInput, all: boolean): void {
  const iteration = currentIteration(o.service);
  for (const t of o.tasks) {
    if (t.JobIteration?.Index === iteration || t.DesiredState === 'remove') continue;
    if (all || !isTerminal(t.Status.State)) o.tx.update('task', { ...fresh(o.tx, t), DesiredState: 'remove' });
  }
}

export interface RetryInput extends JobInput {
  /** Tasks of the current run. */
  run: TaskObject[];
  /** The task's node is gone (down, removed, drained...) so it will not finish there. */
  lost: (t: TaskObject) => boolean;
  /** A replacement may be made for this task (global jobs: only on a node still eligible). */
  mayReplace: (t: TaskObject) => boolean;
  global: boolean;
}

/**
 * Failed tasks (and tasks lost with their node) are shut down and, if the restart policy allows,
 * replaced in the same slot after the restart delay. A job never restarts a task that completed, even
 * with condition `any` (swarmkit treats `any` as `on-failure` for jobs). Replacements join `run`.
 */
export function retryFailed(o: RetryInput): void {
  const { tx, service } = o;
  const now = tx.now;
  for (const t of [...o.run]) {
    if (!isLiveJobTask(t) || t.Status.State === 'complete') continue;
    const withNode = !hasEnded(t) && t.DesiredState === 'complete' && o.lost(t);
    if (!hasEnded(t) && !withNode) continue;
    tx.update('task', { ...fresh(tx, t), DesiredState: 'shutdown' });
    if (!o.mayReplace(t) || !shouldRestart(service, t, now)) continue;
    const replacement = newTask(service, o.random, {
      slot: t.Slot,
      nodeId: o.global ? t.NodeID : undefined,
      desired: 'ready',
      now,
      // A task lost with its node did not fail: its replacement starts at once.
      promoteAfter: withNode ? now : now + restartDelayMs(service),
      previous: t,
      origin: 'restart',
      jobIteration: currentIteration(service),
    });
    tx.create('task', replacement);
    o.run.push(replacement);
  }
}

/**
 * The newest task of a slot (or node) failed and the restart policy allows no more attempts: the
 * slot is given up for this run, so it is neither retried nor filled again (swarmkit would start a
 * fresh task there, escaping MaxAttempts). Judged as of when it ended, like replicated services.
 */
export function givenUp(service: ServiceObject, newest: TaskObject | undefined): boolean {
  if (!newest || newest.DesiredState !== 'shutdown' || !hasEnded(newest) || newest.Status.State === 'complete')
    return false;
  return !shouldRestart(service, newest, newest.Status.Timestamp);
}
