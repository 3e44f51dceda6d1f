/**
 * `service ls` counts for jobs, as swarmkit's ListServiceStatuses computes them: only tasks of the
 * current run count; a replicated job desires MaxConcurrent tasks, a global job the tasks not yet
 * complete. The docker CLI prints them as `running/desired (completed/total completed)`.
 */
import type { ServiceObject, TaskObject } from '../../store/types.js';
import { replicatedJobLimits } from '../orchestrator/jobs/job-mode.js';
import type { ServiceStatus } from './api.js';

export function jobServiceStatus(service: ServiceObject, tasks: readonly TaskObject[]): ServiceStatus {
  const iteration = service.JobStatus?.JobIteration.Index ?? 0;
  const current = tasks.filter((t) => t.JobIteration?.Index === iteration);
  const limits = replicatedJobLimits(service.Spec);
  const unfinished = current.filter((t) => t.DesiredState === 'complete' && t.Status.State !== 'complete').length;
  return {
    RunningTasks: current.filter((t) => t.Status.State === 'running').length,
    DesiredTasks: limits ? limits.maxConcurrent : unfinished,
    CompletedTasks: current.filter((t) => t.Status.State === 'complete').length,
  };
}
