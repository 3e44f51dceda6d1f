/**
 * `service create/update/scale/rollback` progress, as the docker CLI shows it: poll the service, its
 * up-to-date tasks and the nodes every 200 ms; per-slot bars and `overall progress: N out of M
 * tasks` until converged, then `verify:` for the monitor period. On a terminal the display redraws in
 * place; otherwise only lines that changed are printed.
 */
import type { ApiClient } from './client.js';
import { CliError, filtersParam } from './client.js';

import { jobProgress, type JobWireService, type JobWireTask } from './job-progress.js';
import { progressBar, rank } from './progress-bar.js';

const RUNNING = rank('running');

interface WireTask extends JobWireTask {
  ID: string;
  Slot?: number;
  NodeID?: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}
interface WireService extends JobWireService {
  ID: string;
  Spec: {
    Name: string;
    Mode: { Replicated?: { Replicas?: number }; Global?: object } & JobWireService['Spec']['Mode'];
    UpdateConfig?: { Monitor?: number };
  };
  UpdateStatus?: { State: string; Message?: string };
}
interface WireNode {
  ID: string;
  Status: { State: string };
}

export interface ProgressIo {
  write(s: string): void;
  isTTY: boolean;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export const realIo: ProgressIo = {
  write: (s) => process.stdout.write(s),
  isTTY: Boolean(process.stdout.isTTY),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => Date.now(),
};

function bar(state: string): string {
  return progressBar(rank(state) / RUNNING);
}

/** Current state per slot (replicated) or node (global), as docker's progress computes it. */
export function slotStates(
  service: WireService,
  tasks: WireTask[],
  nodes: WireNode[],
): { key: string; state: string; err?: string }[] {
  const live = new Set(nodes.filter((n) => n.Status.State !== 'down').map((n) => n.ID));
  const global = Boolean(service.Spec.Mode.Global);
  const best = new Map<string, WireTask>();
  for (const t of tasks) {
    if (!t.NodeID && global) continue;
    if (t.NodeID && !live.has(t.NodeID)) continue;
    const key = global ? t.NodeID! : String(t.Slot ?? 0);
    const cur = best.get(key);
    if (
      !cur ||
      rank(t.DesiredState) < rank(cur.DesiredState) ||
      (t.DesiredState === cur.DesiredState && rank(t.Status.State) > rank(cur.Status.State))
    ) {
      best.set(key, t);
    }
  }
  return [...best.entries()]
    .sort(([a], [b]) => (global ? (a < b ? -1 : 1) : Number(a) - Number(b)))
    .map(([key, t]) => ({ key, state: t.Status.State, err: t.Status.Err }));
}

/** What one service's progress remembers between polls. */
export interface ConvergenceState {
  convergedAt?: number;
  rollback: boolean;
}

export interface ConvergenceStep {
  lines: string[];
  done: boolean;
  /** Set when the update or rollback paused: the service will not converge on its own. */
  failure?: string;
}

/** One poll's worth of a service's progress: its lines and whether it converged (and was verified). */
export async function convergenceStep(
  api: ApiClient,
  serviceId: string,
  label: string,
  st: ConvergenceState,
  now: number,
): Promise<ConvergenceStep> {
  const service = await api.get<WireService>(`/services/${serviceId}?insertDefaults=false`);
  const tasks = await api.get<WireTask[]>(`/tasks?${filtersParam({ '_up-to-date': ['true'], service: [serviceId] })}`);
  const nodes = await api.get<WireNode[]>('/nodes');
  if (service.JobStatus) {
    // Jobs are not verified: done once every expected task completed.
    const job = jobProgress(service, tasks);
    return job.done ? { lines: [...job.lines, 'job complete'], done: true } : { lines: job.lines, done: false };
  }
  const us = service.UpdateStatus;
  if (us?.State.startsWith('rollback')) st.rollback = true;
  if (us?.State === 'paused' || us?.State === 'rollback_paused') {
    return {
      lines: [],
      done: false,
      failure: `${us.State === 'paused' ? 'update' : 'rollback'} paused: ${us.Message ?? ''}`,
    };
  }
  const states = slotStates(service, tasks, nodes);
  const global = Boolean(service.Spec.Mode.Global);
  const want = global ? states.length : (service.Spec.Mode.Replicated?.Replicas ?? 0);
  const running = states.filter((s) => s.state === 'running').length;
  const lines: string[] = [];
  if (st.rollback) lines.push(`rollback: ${us?.Message ?? 'rollback in progress'}`);
  lines.push(`overall progress: ${Math.min(running, want)} out of ${want} tasks`);
  const shown = global
    ? states
    : Array.from(
        { length: want },
        (_, i) => states.find((s) => s.key === String(i + 1)) ?? { key: String(i + 1), state: '' },
      );
  shown.forEach((s, i) => {
    const name = global ? s.key.slice(0, 12) : `${i + 1}/${want}`;
    const detail = s.err && rank(s.state) > RUNNING ? s.err : s.state;
    lines.push(`${name}: ${detail.padEnd(9)} ${s.state ? bar(s.state) : ''}`.trimEnd());
  });
  const done = running >= want && (want > 0 || states.length === 0);
  const completed = us?.State === 'completed' || us?.State === 'rollback_completed';
  if (!done && !completed) {
    st.convergedAt = undefined;
    return { lines, done: false };
  }
  st.convergedAt ??= now;
  const monitorMs = Math.floor((service.Spec.UpdateConfig?.Monitor ?? 5e9) / 1e6);
  const left = Math.ceil((st.convergedAt + monitorMs - now) / 1000);
  if (left > 0 && !completed) {
    lines.push(`verify: Waiting ${left} seconds to verify that tasks are stable...`);
    return { lines, done: false };
  }
  lines.push(`verify: Service ${label} converged`);
  return { lines, done: true };
}

/** Redraws a block of lines in place on a terminal; elsewhere prints only the lines that changed. */
export function progressDrawer(io: ProgressIo): { draw(lines: string[]): void; last(): string[] } {
  let lastText = '';
  let drawnLines = 0;
  return {
    draw(lines: string[]): void {
      const text = lines.join('\n');
      if (text === lastText) return;
      if (io.isTTY) {
        if (drawnLines) io.write(`\x1b[${drawnLines}A`);
        io.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
        drawnLines = lines.length;
      } else {
        const old = new Set(lastText.split('\n'));
        for (const l of lines) if (!old.has(l)) io.write(`${l}\n`);
      }
      lastText = text;
    },
    last: () => lastText.split('\n').filter(Boolean),
  };
}

export async function waitForConvergence(
  api: ApiClient,
  serviceId: string,
  label: string,
  io: ProgressIo = realIo,
): Promise<void> {
  const drawer = progressDrawer(io);
  const st: ConvergenceState = { rollback: false };
  for (;;) {
    const step = await convergenceStep(api, serviceId, label, st, io.now());
    if (step.failure) {
      drawer.draw(drawer.last());
      throw new CliError(step.failure);
    }
    drawer.draw(step.lines);
    if (step.done) return;
    await io.sleep(200);
  }
}
