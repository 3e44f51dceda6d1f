/**
 * Store objects as the visualizer shows them (wire.ts). Pure: the feed and the slot history both
 * use it, and unit tests check it without a store.
 */
import { TASK_STATES, type NodeObject, type ServiceObject, type TaskObject } from '../store/types.js';
import type { UiNode, UiService, UiSlotEntry, UiTask } from './wire.js';

const RUNNING = TASK_STATES.indexOf('running');

/** The stack label Docker's stack deploy puts on every service it makes. */
const STACK_LABEL = 'com.docker.stack.namespace';

/** Drop a pinned digest: the card has room for `name:tag` only. */
function shortImage(image: string | undefined): string {
  return (image ?? '').replace(/@sha256:[0-9a-f]+$/, '');
}

export function uiNode(n: NodeObject): UiNode {
  return {
    id: n.ID,
    hostname: n.Spec.Name || n.Description.Hostname,
    role: n.Spec.Role,
    leader: n.ManagerStatus?.Leader ?? false,
    ...(n.ManagerStatus ? { reachability: n.ManagerStatus.Reachability } : {}),
    availability: n.Spec.Availability,
    state: n.Status.State,
    addr: n.Status.Addr,
    engine: n.Description.Engine.EngineVersion,
    nanoCpus: n.Description.Resources.NanoCPUs,
    memoryBytes: n.Description.Resources.MemoryBytes,
  };
}

function modeOf(s: ServiceObject): Pick<UiService, 'mode' | 'replicas'> {
  const m = s.Spec.Mode;
  if ('Replicated' in m) return { mode: 'replicated', replicas: m.Replicated.Replicas ?? 1 };
  if ('Global' in m) return { mode: 'global' };
  if ('ReplicatedJob' in m) return { mode: 'replicated-job', replicas: m.ReplicatedJob.TotalCompletions ?? 1 };
  return { mode: 'global-job' };
}

export function uiService(s: ServiceObject): UiService {
  const stack = s.Spec.Labels?.[STACK_LABEL];
  return {
    id: s.ID,
    name: s.Spec.Name,
    ...(stack ? { stack } : {}),
    image: shortImage(s.Spec.TaskTemplate.ContainerSpec?.Image),
    ...modeOf(s),
  };
}

/**
 * A task the board shows: one meant to run, or one still winding down. Finished history (desired
 * shutdown and stopped) stays out of the columns; the task panel shows it per slot.
 */
export function isCurrent(t: TaskObject): boolean {
  const desired = TASK_STATES.indexOf(t.DesiredState);
  const state = TASK_STATES.indexOf(t.Status.State);
  return desired <= RUNNING || state <= RUNNING;
}

export function uiTask(t: TaskObject): UiTask {
  const r = t.Spec.Resources?.Reservations;
  const service = t.ServiceAnnotations.Name;
  return {
    id: t.ID,
    serviceId: t.ServiceID,
    name: t.Slot > 0 ? `${service}.${t.Slot}` : `${service}.${t.NodeID ?? ''}`,
    slot: t.Slot,
    ...(t.NodeID ? { nodeId: t.NodeID } : {}),
    image: shortImage(t.Spec.ContainerSpec?.Image),
    state: t.Status.State,
    desired: t.DesiredState,
    since: t.Status.Timestamp,
    message: t.Status.Message,
    ...(t.Status.Err ? { err: t.Status.Err } : {}),
    nanoCpus: r?.NanoCPUs ?? 0,
    memoryBytes: r?.MemoryBytes ?? 0,
  };
}

/** The tasks of `task`'s slot (its node's, for a global service), newest first. */
export function slotHistory(task: TaskObject, all: readonly TaskObject[]): UiSlotEntry[] {
  const same = (t: TaskObject): boolean =>
    t.ServiceID === task.ServiceID && (task.Slot > 0 ? t.Slot === task.Slot : t.NodeID === task.NodeID);
  return all
    .filter(same)
    .sort((a, b) => b.CreatedAt - a.CreatedAt)
    .map((t) => ({
      ...uiTask(t),
      createdAt: t.CreatedAt,
      ...(t.Status.ContainerStatus ? { exitCode: t.Status.ContainerStatus.ExitCode } : {}),
    }));
}
