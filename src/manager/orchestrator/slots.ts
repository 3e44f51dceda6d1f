/** Reading a service's tasks as slots: the unit orchestration reasons about. */
import { isTerminal, type TaskObject } from '../../store/types.js';

/** A task the orchestrator still means to run (now or after a delay). */
export function isRunnable(t: TaskObject): boolean {
  return t.DesiredState === 'running' || t.DesiredState === 'ready';
}

/** A task that should run but whose container has ended. */
export function hasEnded(t: TaskObject): boolean {
  return isTerminal(t.Status.State);
}

export interface Slot {
  /** `slot number` for replicated services, node id for global ones. */
  readonly key: string;
  readonly slot: number;
  /** Newest first. */
  readonly tasks: TaskObject[];
}

export function groupSlots(tasks: readonly TaskObject[], global: boolean): Map<string, Slot> {
  const slots = new Map<string, Slot>();
  for (const t of tasks) {
    const key = global ? (t.NodeID ?? `unassigned-${t.ID}`) : String(t.Slot);
    let s = slots.get(key);
    if (!s) {
      s = { key, slot: global ? 0 : t.Slot, tasks: [] };
      slots.set(key, s);
    }
    s.tasks.push(t);
  }
  for (const s of slots.values()) s.tasks.sort((a, b) => b.CreatedAt - a.CreatedAt || (b.ID < a.ID ? -1 : 1));
  return slots;
}
