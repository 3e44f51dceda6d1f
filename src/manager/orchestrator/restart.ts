/** The restart policy: whether an ended task is replaced, and after how long. */
import type { ServiceObject, TaskObject } from '../../store/types.js';

export const DEFAULT_RESTART_DELAY_NS = 5_000_000_000;

export function restartDelayMs(service: ServiceObject): number {
  const d = service.Spec.TaskTemplate.RestartPolicy?.Delay;
  return Math.floor((d ?? DEFAULT_RESTART_DELAY_NS) / 1e6);
}

/** A task counts as failed for on-failure unless it completed with exit code 0. */
function endedWithFailure(t: TaskObject): boolean {
  if (t.Status.State !== 'complete') return true;
  return (t.Status.ContainerStatus?.ExitCode ?? 0) !== 0;
}

/**
 * swarmkit semantics: condition none never restarts, on-failure restarts unless the task completed
 * cleanly, any always restarts; MaxAttempts bounds restarts of the same spec: all of them, or with
 * a Window only those within the last Window (so restarts spread wider than that go on).
 */
export function shouldRestart(service: ServiceObject, ended: TaskObject, now: number): boolean {
  const policy = service.Spec.TaskTemplate.RestartPolicy ?? {};
  const condition = policy.Condition ?? 'any';
  if (condition === 'none') return false;
  if (condition === 'on-failure' && !endedWithFailure(ended)) return false;
  const max = policy.MaxAttempts ?? 0;
  if (max <= 0) return true;
  if (ended.SpecVersion !== service.SpecVersion) return true;
  const windowMs = Math.floor((policy.Window ?? 0) / 1e6);
  // With a Window, only the restarts that happened within the last Window count (swarmkit).
  if (windowMs > 0) return (ended.Restarts?.Recent ?? []).filter((at) => at > now - windowMs).length < max;
  return (ended.Restarts?.Attempt ?? 0) < max;
}
