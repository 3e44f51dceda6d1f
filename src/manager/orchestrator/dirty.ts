/**
 * Whether a task must be replaced to match its service: anything but placement differs, or placement
 * differs and the task's node no longer satisfies it (swarmkit's rule: a constraint change alone does
 * not move tasks that may stay).
 */
import { canonicalJson } from '../../common/canonical.js';
import type { NodeObject, ServiceObject, TaskObject } from '../../store/types.js';
import { constraintsHold, parseConstraints } from '../scheduler/constraint.js';

function withoutPlacement(t: TaskObject['Spec']): string {
  const { Placement: _p, ...rest } = t;
  return canonicalJson(rest);
}

export function isDirty(task: TaskObject, service: ServiceObject, node: NodeObject | undefined): boolean {
  if (task.SpecVersion === service.SpecVersion) return false;
  if (service.RebalanceTasks?.includes(task.ID)) return true;
  const want = service.Spec.TaskTemplate;
  if (withoutPlacement(task.Spec) !== withoutPlacement(want)) return true;
  if (canonicalJson(task.Endpoint?.Ports ?? []) !== canonicalJson(service.Endpoint.Ports ?? [])) return true;
  if (!node) return true;
  const placement = want.Placement ?? {};
  if (!constraintsHold(parseConstraints(placement.Constraints ?? []), node)) return true;
  const platforms = placement.Platforms ?? [];
  if (platforms.length && !platforms.some((p) => !p.OS || p.OS === node.Description.Platform.OS)) return true;
  return false;
}
