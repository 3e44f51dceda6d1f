/**
 * Rebalancing, which swarm lacks (moby#24103): which tasks of a replicated service to move so that
 * its tasks are spread evenly over the nodes that may run them. Pure; the updater then replaces the
 * chosen tasks under the service's update policy, and the scheduler places them on the emptiest nodes.
 */
import type { NodeObject, ServiceObject, TaskObject } from '../../store/types.js';
import { constraintsHold, parseConstraints } from '../scheduler/constraint.js';

export function tasksToRebalance(
  service: ServiceObject,
  nodes: readonly NodeObject[],
  tasks: readonly TaskObject[],
): string[] {
  const constraints = parseConstraints(service.Spec.TaskTemplate.Placement?.Constraints ?? []);
  const eligible = nodes.filter(
    (n) => n.Status.State === 'ready' && n.Spec.Availability === 'active' && constraintsHold(constraints, n),
  );
  if (eligible.length < 2) return [];
  const byNode = new Map<string, TaskObject[]>(eligible.map((n) => [n.ID as string, []]));
  for (const t of tasks) {
    if (t.ServiceID !== service.ID || t.DesiredState !== 'running' || !t.NodeID) continue;
    byNode.get(t.NodeID)?.push(t);
  }
  const total = [...byNode.values()].reduce((s, l) => s + l.length, 0);
  const base = Math.floor(total / eligible.length);
  let extra = total % eligible.length;
  // The fullest nodes keep the extra tasks, so as few tasks as possible move.
  const ordered = [...byNode.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
  const moves: string[] = [];
  for (const [, list] of ordered) {
    const quota = base + (extra > 0 ? 1 : 0);
    if (extra > 0) extra--;
    // Move the highest slots first, so the choice is stable and easy to read in `service ps`.
    const sorted = [...list].sort((a, b) => b.Slot - a.Slot);
    moves.push(...sorted.slice(0, Math.max(0, list.length - quota)).map((t) => t.ID));
  }
  return moves;
}
