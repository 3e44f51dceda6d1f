/**
 * Start order across the cluster (the `DependsOn` spec extension, compose `depends_on`): a pure gate
 * the scheduler asks before placing a task. While a dependency does not meet its condition, the
 * task stays Pending and its status says what it waits for (`waiting for wp_db: healthy 0/1`).
 *
 * Rules (docs/api-extensions.md):
 * - `service_started`: as many of the dependency's tasks have started (state `starting`, `running`,
 *   or `complete` for a job) as it wants: its replicas, MaxConcurrent (capped by TotalCompletions)
 *   for a replicated job, and for a global service every task the orchestrator made for it (one per
 *   eligible node), at least one.
 * - `service_healthy`: the same count, of tasks `running`. An agent reports a task with a
 *   healthcheck `running` only once its container is healthy, so running means healthy.
 * - `service_completed_successfully`: a replicated job has TotalCompletions tasks of its current run
 *   complete (exit 0); a global job has a complete task on every node it ran on (at least one); a
 *   service that is not a job has the newest task of every slot complete.
 * Tasks on down nodes and tasks being shut down do not count. A wanted count of 0 (a service scaled
 * to 0 replicas) is met. The gate only holds tasks back from being placed: once placed, a task is not
 * stopped when a dependency later fails, as compose only orders the start.
 */
import { isJob, replicatedJobLimits } from '../orchestrator/jobs/job-mode.js';
import type {
  DependencyCondition,
  NodeObject,
  ServiceDependency,
  ServiceObject,
  TaskObject,
  TaskState,
} from '../../store/types.js';

/** Where one dependency stands. */
export type DependencyProgress =
  | { readonly kind: 'met' }
  | { readonly kind: 'missing' }
  | { readonly kind: 'waiting'; readonly condition: DependencyCondition; readonly have: number; readonly want: number };

const WORD: Record<DependencyCondition, string> = {
  service_started: 'started',
  service_healthy: 'healthy',
  service_completed_successfully: 'completed',
};

/** The text of one unmet dependency, as `service ps` shows it. */
export function describeWait(name: string, p: Exclude<DependencyProgress, { kind: 'met' }>): string {
  if (p.kind === 'missing') return `waiting for ${name}: not created`;
  return `waiting for ${name}: ${WORD[p.condition]} ${p.have}/${p.want}`;
}

const STARTED: ReadonlySet<TaskState> = new Set(['starting', 'running']);

/** Whether a task is one the service currently means to have (not being shut down or removed). */
function wanted(t: TaskObject): boolean {
  return t.DesiredState === 'running' || t.DesiredState === 'ready' || t.DesiredState === 'complete';
}

/** The tasks of the job run that is current; every task for a service that is not a job. */
function currentRun(service: ServiceObject, tasks: readonly TaskObject[]): readonly TaskObject[] {
  if (!isJob(service.Spec)) return tasks;
  const iteration = service.JobStatus?.JobIteration.Index ?? 0;
  return tasks.filter((t) => (t.JobIteration?.Index ?? 0) === iteration);
}

/** How many tasks `service_started` / `service_healthy` wait for. */
function wantedRunning(service: ServiceObject, tasks: readonly TaskObject[]): number {
  const mode = service.Spec.Mode;
  if ('Replicated' in mode) return mode.Replicated.Replicas ?? 1;
  const job = replicatedJobLimits(service.Spec);
  if (job) return Math.min(job.maxConcurrent, job.totalCompletions);
  // Global services and global jobs: one task per eligible node, as the orchestrator made them.
  const nodes = new Set(tasks.filter(wanted).map((t) => t.NodeID ?? t.ID));
  return Math.max(1, nodes.size);
}

function completed(service: ServiceObject, tasks: readonly TaskObject[]): { have: number; want: number } {
  const job = replicatedJobLimits(service.Spec);
  if (job) {
    const slots = new Set(tasks.filter((t) => t.Status.State === 'complete').map((t) => t.Slot));
    return { have: slots.size, want: job.totalCompletions };
  }
  if ('GlobalJob' in service.Spec.Mode) {
    const nodes = new Set(tasks.map((t) => t.NodeID ?? t.ID));
    const done = new Set(tasks.filter((t) => t.Status.State === 'complete').map((t) => t.NodeID ?? t.ID));
    return { have: done.size, want: Math.max(1, nodes.size) };
  }
  // Not a job: the newest task of every slot (per node for a global service) must have completed.
  const global = 'Global' in service.Spec.Mode;
  const newest = new Map<string, TaskObject>();
  for (const t of tasks) {
    if (t.DesiredState === 'remove') continue;
    const key = global ? (t.NodeID ?? t.ID) : String(t.Slot);
    const cur = newest.get(key);
    if (!cur || t.CreatedAt > cur.CreatedAt || (t.CreatedAt === cur.CreatedAt && t.ID > cur.ID)) newest.set(key, t);
  }
  const have = [...newest.values()].filter((t) => t.Status.State === 'complete').length;
  const mode = service.Spec.Mode;
  return { have, want: 'Replicated' in mode ? (mode.Replicated.Replicas ?? 1) : Math.max(1, newest.size) };
}

/**
 * Where `dep` stands, given the dependency service (undefined: not created, or being removed), its
 * tasks and the nodes that are down.
 */
export function dependencyProgress(
  dep: ServiceDependency,
  service: ServiceObject | undefined,
  tasks: readonly TaskObject[],
  downNodes: ReadonlySet<string>,
): DependencyProgress {
  if (!service || service.PendingDelete) return { kind: 'missing' };
  const run = currentRun(service, tasks);
  let have: number;
  let want: number;
  if (dep.Condition === 'service_completed_successfully') {
    ({ have, want } = completed(service, run));
  } else {
    const job = isJob(service.Spec);
    const counts = (t: TaskObject): boolean => {
      if (job && t.Status.State === 'complete') return true;
      if (!wanted(t) || (t.NodeID && downNodes.has(t.NodeID))) return false;
      return dep.Condition === 'service_started' ? STARTED.has(t.Status.State) : t.Status.State === 'running';
    };
    have = run.filter(counts).length;
    want = wantedRunning(service, run);
  }
  return have >= want ? { kind: 'met' } : { kind: 'waiting', condition: dep.Condition, have, want };
}

/**
 * One scheduler pass's view of the cluster for dependency checks: services by name, tasks by
 * service, and the answer for each waiting service computed once.
 */
export class DependencyGate {
  private readonly byName = new Map<string, ServiceObject>();
  private readonly byId = new Map<string, ServiceObject>();
  private readonly tasksOf = new Map<string, TaskObject[]>();
  private readonly downNodes: ReadonlySet<string>;
  private readonly answers = new Map<string, string | undefined>();

  constructor(services: readonly ServiceObject[], tasks: readonly TaskObject[], nodes: readonly NodeObject[]) {
    for (const s of services) {
      this.byId.set(s.ID, s);
      this.byName.set(s.Spec.Name, s);
    }
    for (const t of tasks) {
      const list = this.tasksOf.get(t.ServiceID);
      if (list) list.push(t);
      else this.tasksOf.set(t.ServiceID, [t]);
    }
    this.downNodes = new Set(nodes.filter((n) => n.Status.State === 'down').map((n) => n.ID));
  }

  /** Why tasks of this service must wait (every unmet dependency, in spec order), or undefined. */
  waitReason(serviceId: string): string | undefined {
    if (this.answers.has(serviceId)) return this.answers.get(serviceId);
    const service = this.byId.get(serviceId);
    const waits: string[] = [];
    for (const dep of service?.Spec.DependsOn ?? []) {
      const target = this.byName.get(dep.Service);
      const p = dependencyProgress(dep, target, target ? (this.tasksOf.get(target.ID) ?? []) : [], this.downNodes);
      if (p.kind !== 'met') waits.push(describeWait(dep.Service, p));
    }
    const reason = waits.length ? waits.join('; ') : undefined;
    this.answers.set(serviceId, reason);
    return reason;
  }
}
