/** Making new tasks from a service: the one place a task's initial fields are decided. */
import { newId, type NodeId, type TaskId } from '../../common/ids.js';
import type { Random } from '../../common/random.js';
import type { ServiceObject, TaskObject, TaskState } from '../../store/types.js';

export interface NewTaskOptions {
  slot: number;
  nodeId?: NodeId;
  desired: TaskState;
  now: number;
  promoteAfter?: number;
  previous?: TaskObject;
  origin: 'slot' | 'restart' | 'update';
  /** Jobs: the run of the job the task belongs to. */
  jobIteration?: number;
}

/** Restart times kept per chain: enough for any sane MaxAttempts within a Window. */
const MAX_RECENT_RESTARTS = 64;

export function newTask(service: ServiceObject, random: Random, o: NewTaskOptions): TaskObject {
  const id = newId<TaskId>(random);
  const sameSpec = o.previous && o.previous.SpecVersion === service.SpecVersion;
  const task: TaskObject = {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: o.now,
    UpdatedAt: o.now,
    ServiceID: service.ID,
    Slot: o.slot,
    Spec: structuredClone(service.Spec.TaskTemplate),
    SpecVersion: service.SpecVersion,
    ServiceAnnotations: { Name: service.Spec.Name, Labels: { ...(service.Spec.Labels ?? {}) } },
    Annotations: { Name: '' },
    Status: { Timestamp: o.now, State: 'new', Message: 'created' },
    DesiredState: o.desired,
    Endpoint: { Ports: structuredClone(service.Endpoint.Ports ?? []) },
    Origin: o.origin,
  };
  if (o.nodeId) task.NodeID = o.nodeId;
  if (o.promoteAfter !== undefined) task.PromoteAfter = o.promoteAfter;
  if (o.jobIteration !== undefined) task.JobIteration = { Index: o.jobIteration };
  if (o.previous) {
    const restart = o.origin === 'restart';
    const recent =
      sameSpec && restart ? [...(o.previous.Restarts?.Recent ?? []), o.now].slice(-MAX_RECENT_RESTARTS) : [];
    task.Restarts = { PreviousTaskID: o.previous.ID, Attempt: sameSpec ? (o.previous.Restarts?.Attempt ?? 0) + 1 : 0 };
    if (recent.length) task.Restarts.Recent = recent;
  }
  return task;
}
