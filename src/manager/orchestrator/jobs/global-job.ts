/**
 * Global jobs: one task to completion on every eligible node (ready, active, constraints hold),
 * including nodes that join while the run is current, as swarmkit does. A node that goes down or is
 * drained has its unfinished task shut down, not moved.
 */
import type { NodeId } from '../../../common/ids.js';
import type { NodeObject, TaskObject } from '../../../store/types.js';
import { constraintsHold, parseConstraints } from '../../scheduler/constraint.js';
import { promoteWaiting } from '../promotion.js';
import { groupSlots, hasEnded } from '../slots.js';
import { newTask } from '../task-factory.js';
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
export function reconcileGlobalJob(o: JobInput): number {
  const { tx, service, nodes } = o;
  const iteration = currentIteration(service);
  retireEarlierRuns(o, true);

  const constraints = parseConstraints(service.Spec.TaskTemplate.Placement?.Constraints ?? []);
  const eligible = (n: NodeObject | undefined): n is NodeObject =>
    n !== undefined &&
    n.Status.State === 'ready' &&
    n.Spec.Availability === 'active' &&
    constraintsHold(constraints, n);
  // A task stays where it is unless its node died, was removed or drained (swarmkit's InvalidNode).
  const invalid = (t: TaskObject): boolean => {
    const n = t.NodeID ? nodes.get(t.NodeID) : undefined;
    return !n || n.Status.State === 'down' || n.Spec.Availability === 'drain';
  };
  const nodeDown = nodeDownCheck(nodes);
  const run = o.tasks.filter((t) => t.JobIteration?.Index === iteration);
  retryFailed({
    ...o,
    run,
    lost: invalid,
    mayReplace: (t) => eligible(t.NodeID ? nodes.get(t.NodeID) : undefined),
    global: true,
  });
  for (const t of run) {
    const cur = fresh(tx, t);
    if (isLiveJobTask(cur) && !hasEnded(cur) && invalid(cur)) tx.update('task', { ...cur, DesiredState: 'shutdown' });
  }
  const wake = promoteWaiting({ tx, tasks: run, nodeDown, to: 'complete' });

  const byNode = groupSlots(
    run.map((t) => fresh(tx, t)),
    true,
  );
  for (const node of nodes.values()) {
    if (!eligible(node)) continue;
    const tasks = byNode.get(node.ID)?.tasks ?? [];
    if (tasks.some(isLiveJobTask) || givenUp(service, tasks[0])) continue;
    tx.create(
      'task',
      newTask(service, o.random, {
        slot: 0,
        nodeId: node.ID as NodeId,
        desired: 'complete',
        now: tx.now,
        origin: 'slot',
        jobIteration: iteration,
      }),
    );
  }
  return wake;
}
