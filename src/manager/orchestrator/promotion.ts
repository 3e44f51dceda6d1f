/**
 * Starting replacements that wait as `ready`: once their delay has passed and the task they replace
 * has stopped. Only that one task is waited for (`Restarts.PreviousTaskID`), as swarmkit's restart
 * supervisor and updater wait for the task they replaced: a task a rollback starts in a slot waits
 * for the rejected task it replaces, not for the slot's original task still inside its stop grace.
 */
import type { WriteTx } from '../../store/store.js';
import type { TaskObject, TaskState } from '../../store/types.js';
import { hasEnded } from './slots.js';

/** How long a replacement waits for its predecessor to stop before it starts anyway (swarmkit: 1 min). */
export const MAX_WAIT_FOR_PREDECESSOR_MS = 60_000;

export interface PromotionInput {
  tx: WriteTx;
  tasks: readonly TaskObject[];
  /** A task on a node that is down stops with its node. */
  nodeDown: (t: TaskObject) => boolean;
  /** What a due replacement is told to do: run (services) or run to completion (jobs). */
  to: Extract<TaskState, 'running' | 'complete'>;
}

/** The task a replacement waits for, if it still has to stop. */
export function blockingPredecessor(
  tx: WriteTx,
  t: TaskObject,
  nodeDown: (t: TaskObject) => boolean,
): TaskObject | undefined {
  const id = t.Restarts?.PreviousTaskID;
  const prev = id ? tx.get('task', id) : undefined;
  if (!prev || hasEnded(prev) || !prev.NodeID || nodeDown(prev) || prev.DesiredState === 'remove') return undefined;
  return prev;
}

/** Returns the earliest time a waiting replacement needs another look (Infinity if none). */
export function promoteWaiting(o: PromotionInput): number {
  const { tx } = o;
  const now = tx.now;
  let wake = Infinity;
  for (const listed of o.tasks) {
    // As this transaction sees it: an earlier step of the pass may have shut it down.
    const t = tx.get('task', listed.ID) ?? listed;
    if (t.DesiredState !== 'ready' || hasEnded(t)) continue;
    const due = t.PromoteAfter ?? now;
    const waitedTooLong = now >= due + MAX_WAIT_FOR_PREDECESSOR_MS;
    if (now >= due && (!blockingPredecessor(tx, t, o.nodeDown) || waitedTooLong)) {
      tx.update('task', { ...t, DesiredState: o.to });
    } else {
      wake = Math.min(wake, now < due ? due : Math.min(now + 1000, due + MAX_WAIT_FOR_PREDECESSOR_MS));
    }
  }
  return wake;
}
