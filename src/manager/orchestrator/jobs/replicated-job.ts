/**
 * Replicated jobs: run tasks until TotalCompletions of them completed, at most MaxConcurrent at a time.
 * As in swarmkit, every task of a run gets its own slot (0 .. TotalCompletions-1), so a finished job
 * has one completed task per slot and a failed task is retried in its slot by the restart logic.
 */
import { constraintsHold, parseConstraints } from '../../scheduler/constraint.js';
import type { TaskObject } from '../../../store/types.js';
import { promoteWaiting } from '../promotion.js';
import { groupSlots } from '../slots.js';
import { newTask } from '../task-factory.js';
import { replicatedJobLimits } from './job-mode.js';
import {
  currentIteration,
  fresh,
  givenUp,
  isLiveJobTask,
  nodeDownCheck,
  retireEarlierRuns,
  retryFailed,
  type JobInput,
} from './job-tasks.js';

/** Returns the earliest future time the job needs another look (Infinity if none). */
export function reconcileReplicatedJob(o: JobInput): number {
  const { tx, service, nodes } = o;
  const limits = replicatedJobLimits(service.Spec);
  if (!limits) return Infinity;
  const iteration = currentIteration(service);
  retireEarlierRuns(o, false);

  const nodeDown = nodeDownCheck(nodes);
  // A task whose node died, was drained, removed, or no longer satisfies its constraints is run elsewhere.
  const lost = (t: TaskObject): boolean => {
    if (t.NodeID === undefined) return false;
    const n = nodes.get(t.NodeID);
    if (!n || n.Status.State === 'down' || n.Spec.Availability === 'drain') return true;
    const c = t.Spec.Placement?.Constraints;
    return Boolean(c?.length) && !constraintsHold(parseConstraints(c!), n);
  };
  const run = o.tasks.filter((t) => t.JobIteration?.Index === iteration);
  retryFailed({ ...o, run, lost, mayReplace: () => true, global: false });
  const wake = promoteWaiting({ tx, tasks: run, nodeDown, to: 'complete' });

  // Count slots as they stand after this pass's retries (tasks re-read through the transaction).
  let completed = 0;
  let active = 0;
  let abandoned = 0;
  const slots = groupSlots(
    run.map((t) => fresh(tx, t)),
    false,
  );
  for (const slot of slots.values()) {
    if (slot.tasks.some((t) => t.Status.State === 'complete')) completed++;
    else if (slot.tasks.some(isLiveJobTask)) active++;
    else if (givenUp(service, slot.tasks[0])) abandoned++;
    else slots.delete(slot.key); // nothing left in it: free to use again
  }
  const wanted = Math.min(limits.maxConcurrent - active, limits.totalCompletions - completed - active - abandoned);
  let slot = 0;
  for (let i = 0; i < wanted; i++) {
    while (slots.has(String(slot))) slot++;
    slots.set(String(slot), { key: String(slot), slot, tasks: [] });
    tx.create(
      'task',
      newTask(service, o.random, { slot, desired: 'complete', now: tx.now, origin: 'slot', jobIteration: iteration }),
    );
  }
  return wake;
}
