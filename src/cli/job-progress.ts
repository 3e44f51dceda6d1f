/**
 * The docker CLI's progress display for jobs: `job progress: K out of T complete`, the active tasks
 * out of those that may still run, and one bar per slot (replicated job, slots shown 1-based) or per
 * node (global job), counting only tasks of the current run. Done when every expected task completed.
 */
import { progressBar, rank } from './progress-bar.js';

export interface JobWireTask {
  Slot?: number;
  NodeID?: string;
  DesiredState: string;
  /** Go omits a zero Index: the first run is `{}`. */
  JobIteration?: { Index?: number };
  Status: { State: string; Err?: string };
}

export interface JobWireService {
  Spec: { Mode: { ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number }; GlobalJob?: object } };
  JobStatus?: { JobIteration: { Index?: number } };
}

/** docker draws no per-task bars past this many tasks. */
const MAX_PROGRESS_BARS = 20;
/** A job task's bar is full once it completed (docker: numbered state 10 of 10). */
const COMPLETE = rank('complete');

function taskLine(id: string, t: JobWireTask): string {
  if (t.Status.Err) return `${id}: ${t.Status.Err}`;
  return `${id}: ${t.Status.State.padEnd(9)} ${progressBar((rank(t.Status.State) + 1) / (COMPLETE + 1))}`;
}

/** The lowest state per key wins, as docker keeps the least advanced task of a slot. */
function byKey(tasks: readonly JobWireTask[], key: (t: JobWireTask) => string): Map<string, JobWireTask> {
  const out = new Map<string, JobWireTask>();
  for (const t of tasks) {
    const k = key(t);
    const cur = out.get(k);
    if (!cur || rank(cur.Status.State) > rank(t.Status.State)) out.set(k, t);
  }
  return out;
}

export function jobProgress(
  service: JobWireService,
  tasks: readonly JobWireTask[],
): { lines: string[]; done: boolean } {
  const iteration = service.JobStatus?.JobIteration.Index ?? 0;
  const current = tasks.filter((t) => t.JobIteration !== undefined && (t.JobIteration.Index ?? 0) === iteration);
  const rj = service.Spec.Mode.ReplicatedJob;
  if (rj) {
    const concurrent = rj.MaxConcurrent ?? 1;
    const total = rj.TotalCompletions ?? concurrent;
    const slots = byKey(current, (t) => String(t.Slot ?? 0));
    let active = 0;
    let complete = 0;
    const bars: string[] = [];
    for (let i = 0; i < total; i++) {
      const t = slots.get(String(i));
      if (!t) {
        bars.push(`${i + 1}/${total}:`);
        continue;
      }
      if (rank(t.Status.State) < COMPLETE) active++;
      if (t.Status.State === 'complete') complete++;
      bars.push(taskLine(`${i + 1}/${total}`, t));
    }
    const digits = String(total).length;
    const activeDigits = String(concurrent).length;
    const lines = [
      `job progress: ${String(complete).padStart(digits)} out of ${total} complete ${progressBar(total ? complete / total : 1)}`,
      `active tasks: ${String(active).padStart(activeDigits)} out of ${String(Math.min(total - complete, concurrent)).padStart(activeDigits)} tasks`,
      ...(total <= MAX_PROGRESS_BARS ? bars : []),
    ];
    return { lines, done: complete === total };
  }
  const nodes = byKey(
    current.filter((t) => t.NodeID),
    (t) => t.NodeID!,
  );
  if (nodes.size === 0) return { lines: ['job progress: waiting for tasks'], done: false };
  const complete = [...nodes.values()].filter((t) => t.Status.State === 'complete').length;
  const total = nodes.size;
  const lines = [
    `job progress: ${String(complete).padStart(String(total).length)} out of ${total} complete ${progressBar(complete / total)}`,
    ...(total <= MAX_PROGRESS_BARS
      ? [...nodes.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, t]) => taskLine(id, t))
      : []),
  ];
  return { lines, done: complete === total };
}
