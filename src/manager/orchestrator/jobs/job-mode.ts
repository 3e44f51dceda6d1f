/** Swarm jobs (Docker 20.10): services whose tasks run to completion instead of forever. */
import type { ServiceSpec } from '../../../store/types.js';

export function isJob(spec: ServiceSpec): boolean {
  return 'ReplicatedJob' in spec.Mode || 'GlobalJob' in spec.Mode;
}

export interface ReplicatedJobLimits {
  maxConcurrent: number;
  totalCompletions: number;
}

/** The Engine API's defaults: MaxConcurrent 1, TotalCompletions = MaxConcurrent. */
export function replicatedJobLimits(spec: ServiceSpec): ReplicatedJobLimits | undefined {
  if (!('ReplicatedJob' in spec.Mode)) return undefined;
  const j = spec.Mode.ReplicatedJob ?? {};
  const maxConcurrent = j.MaxConcurrent ?? 1;
  return { maxConcurrent, totalCompletions: j.TotalCompletions ?? maxConcurrent };
}
