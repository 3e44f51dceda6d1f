/** Update and rollback settings with swarm's defaults filled in. */
import type { ServiceObject, UpdateConfig } from '../../store/types.js';

export interface EffectiveUpdateConfig {
  parallelism: number; // 0 = all at once
  delayMs: number;
  failureAction: 'pause' | 'continue' | 'rollback';
  monitorMs: number;
  maxFailureRatio: number;
  order: 'stop-first' | 'start-first';
}

const DEFAULT_MONITOR_MS = 5000;

export function isRollingBack(service: ServiceObject): boolean {
  const s = service.UpdateStatus?.State;
  return s === 'rollback_started' || s === 'rollback_paused' || s === 'rollback_completed';
}

export function effectiveUpdateConfig(service: ServiceObject): EffectiveUpdateConfig {
  const rollback = isRollingBack(service);
  const c: UpdateConfig = (rollback ? service.Spec.RollbackConfig : service.Spec.UpdateConfig) ?? {};
  const delayMs = Math.floor((c.Delay ?? 0) / 1e6);
  let monitorMs = c.Monitor !== undefined && c.Monitor > 0 ? Math.floor(c.Monitor / 1e6) : DEFAULT_MONITOR_MS;
  // A delay at least as long as the monitor window would hide failures between batches.
  if (delayMs > 0 && delayMs >= monitorMs) monitorMs = delayMs + 1000;
  return {
    parallelism: c.Parallelism ?? 1,
    delayMs,
    failureAction: c.FailureAction ?? 'pause',
    monitorMs,
    maxFailureRatio: c.MaxFailureRatio ?? 0,
    order: c.Order ?? 'stop-first',
  };
}
