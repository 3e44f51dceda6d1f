/**
 * Service modes as the docker CLI handles them: `--mode` (with `--replicas` and `--max-concurrent`)
 * into a spec's Mode, and the MODE and REPLICAS columns of `service ls`, jobs included.
 */
import type { ServiceMode } from '../../store/types.js';
import { CliError } from '../client.js';

export interface ModeFlags {
  mode?: string;
  replicas?: string;
  maxConcurrent?: string;
}

/** docker's ToServiceMode: for a replicated job, --max-concurrent defaults to --replicas. */
export function serviceModeFromFlags(f: ModeFlags): ServiceMode {
  const mode = f.mode ?? 'replicated';
  const replicas = f.replicas !== undefined ? Number(f.replicas) : undefined;
  const concurrent = f.maxConcurrent !== undefined ? Number(f.maxConcurrent) : undefined;
  if (concurrent !== undefined && mode !== 'replicated-job')
    throw new CliError('max-concurrent can only be used with replicated-job mode');
  switch (mode) {
    case 'replicated':
      return { Replicated: { Replicas: replicas ?? 1 } };
    case 'global':
      if (replicas !== undefined)
        throw new CliError('replicas can only be used with replicated or replicated-job mode');
      return { Global: {} };
    case 'replicated-job': {
      const job: { MaxConcurrent?: number; TotalCompletions?: number } = {};
      if ((concurrent ?? replicas) !== undefined) job.MaxConcurrent = concurrent ?? replicas;
      if (replicas !== undefined) job.TotalCompletions = replicas;
      return { ReplicatedJob: job };
    }
    case 'global-job':
      if (replicas !== undefined)
        throw new CliError('replicas can only be used with replicated or replicated-job mode');
      return { GlobalJob: {} };
    default:
      throw new CliError(
        `invalid argument "${mode}" for "--mode" flag: unknown mode: ${mode}, only replicated and global supported`,
      );
  }
}

export function modeColumn(mode: ServiceMode): string {
  if ('Global' in mode) return 'global';
  if ('Replicated' in mode) return 'replicated';
  if ('ReplicatedJob' in mode) return 'replicated job';
  return 'global job';
}

export interface StatusCounts {
  RunningTasks: number;
  DesiredTasks: number;
  CompletedTasks?: number;
}

/**
 * The REPLICAS column as the docker CLI prints it: jobs add their progress (a global job's total
 * is the tasks still to finish plus those finished), services their per-node limit.
 */
export function replicasColumn(mode: ServiceMode, st: StatusCounts, maxPerNode: number | undefined): string {
  const { RunningTasks: running, DesiredTasks: desired } = st;
  const completed = st.CompletedTasks ?? 0;
  if ('ReplicatedJob' in mode)
    return `${running}/${desired} (${completed}/${mode.ReplicatedJob.TotalCompletions ?? 0} completed)`;
  if ('GlobalJob' in mode) return `${running}/${desired} (${completed}/${desired + completed} completed)`;
  return `${running}/${desired}${maxPerNode ? ` (max ${maxPerNode} per node)` : ''}`;
}
