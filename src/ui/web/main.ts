/**
 * The visualizer page: follows the manager's server-sent event stream (a snapshot, then deltas as
 * the store commits; never polls), renders at most once per animation frame, and opens a task's
 * slot history and last log lines on click.
 */
import type { UiLogLine, UiMessage, UiSlotEntry } from '../wire.js';
import { BoardState } from './board-state.js';
import { age, esc } from './format.js';
import { board, totals, type Filters } from './render.js';

/** What the page measured, read by the tests (and handy in a console). */
interface Stats {
  messages: number;
  /** Milliseconds to parse and apply the last message, and to render the last frame. */
  lastApplyMs: number;
  lastRenderMs: number;
  /** From the last snapshot's arrival to the end of the first frame that showed it. */
  snapshotToScreenMs: number;
  snapshotTasks: number;
  /** Epoch ms at which each task first reached the page. */
  firstSeen: (taskId: string) => number | undefined;
}

declare global {
  interface Window {
    shoalUi: Stats;
  }
}

/** States after which a container's exit code means something. */
const FINISHED = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned']);

const state = new BoardState();
const filters: Filters = { service: '', stack: '' };
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const boardEl = $<HTMLElement>('board');
const totalsEl = $<HTMLElement>('totals');
const statusEl = $<HTMLElement>('status');
const serviceSel = $<HTMLSelectElement>('filter-service');
const stackSel = $<HTMLSelectElement>('filter-stack');
const panel = $<HTMLElement>('panel');

const stats: Stats = {
  messages: 0,
  lastApplyMs: 0,
  lastRenderMs: 0,
  snapshotToScreenMs: 0,
  snapshotTasks: 0,
  firstSeen: (id) => state.firstSeen.get(id),
};
window.shoalUi = stats;

let frame = 0;
let snapshotAt: number | undefined;

function schedule(): void {
  if (!frame) frame = requestAnimationFrame(draw);
}

function options(sel: HTMLSelectElement, all: string, items: [string, string][]): void {
  const want = `<option value="">${esc(all)}</option>${items.map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`).join('')}`;
  if (sel.dataset.items === want) return;
  const keep = sel.value;
  sel.innerHTML = want;
  sel.dataset.items = want;
  sel.value = items.some(([v]) => v === keep) ? keep : '';
}

function draw(): void {
  frame = 0;
  const t0 = performance.now();
  const services = [...state.services.values()].sort((a, b) => a.name.localeCompare(b.name));
  options(
    serviceSel,
    'all services',
    services.map((s) => [s.id, s.name]),
  );
  const stacks = [...new Set(services.flatMap((s) => (s.stack ? [s.stack] : [])))].sort();
  options(
    stackSel,
    'all stacks',
    stacks.map((s) => [s, s]),
  );
  filters.service = serviceSel.value;
  filters.stack = stackSel.value;
  statusEl.textContent = state.idle ?? `live · index ${state.index}`;
  totalsEl.innerHTML = totals(state, filters);
  boardEl.innerHTML = board(state, filters, boardEl.scrollLeft, boardEl.clientWidth, Date.now());
  stats.lastRenderMs = performance.now() - t0;
  if (snapshotAt !== undefined) {
    stats.snapshotToScreenMs = performance.now() - snapshotAt;
    snapshotAt = undefined;
  }
  document.body.dataset.index = String(state.index);
}

function connect(): void {
  const es = new EventSource('api/stream');
  es.onmessage = (ev: MessageEvent<string>) => {
    const t0 = performance.now();
    const m = JSON.parse(ev.data) as UiMessage;
    state.apply(m, Date.now());
    stats.messages++;
    stats.lastApplyMs = performance.now() - t0;
    if (m.kind === 'snapshot') {
      snapshotAt = t0;
      stats.snapshotTasks = m.tasks.length;
    }
    schedule();
  };
  es.onerror = () => {
    // EventSource reconnects by itself (the server asks for 1 s); the next snapshot replaces all.
    statusEl.textContent = 'reconnecting…';
  };
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  const body = (await r.json()) as T & { message?: string };
  if (!r.ok) throw new Error(body.message ?? `HTTP ${r.status}`);
  return body;
}

async function openTask(id: string): Promise<void> {
  const t = state.tasks.get(id);
  panel.hidden = false;
  panel.dataset.taskId = id;
  panel.innerHTML = `<button id="panel-close">close</button><h3>${esc(t?.name ?? id)}</h3><p>loading…</p>`;
  const [slot, logs] = await Promise.allSettled([
    getJson<UiSlotEntry[]>(`api/tasks/${id}/slot`),
    getJson<{ lines: UiLogLine[] }>(`api/tasks/${id}/logs?tail=20`),
  ]);
  if (panel.dataset.taskId !== id) return;
  const now = Date.now();
  const history =
    slot.status === 'fulfilled'
      ? `<table class="history"><tr><th>task</th><th>image</th><th>desired</th><th>state</th><th>since</th><th>error</th></tr>${slot.value
          .map(
            (h) =>
              `<tr data-history-id="${esc(h.id)}"><td>${esc(h.id.slice(0, 12))}</td><td>${esc(h.image)}</td><td>${esc(h.desired)}</td><td>${esc(h.state)}${h.exitCode !== undefined && FINISHED.has(h.state) ? ` (exit ${h.exitCode})` : ''}</td><td>${age(now - h.since)} ago</td><td>${esc(h.err ?? '')}</td></tr>`,
          )
          .join('')}</table>`
      : `<p class="err">${esc(String(slot.reason))}</p>`;
  const lines =
    logs.status === 'fulfilled'
      ? `<pre class="logs">${logs.value.lines.map((l) => `<span class="${l.stream}">${esc(l.text)}</span>`).join('\n') || '(no output)'}</pre>`
      : `<p class="err">logs: ${esc(String(logs.reason))}</p>`;
  panel.innerHTML = `<button id="panel-close">close</button><h3>${esc(t?.name ?? id)}</h3><h4>slot history</h4>${history}<h4>last log lines</h4>${lines}`;
}

boardEl.addEventListener('click', (ev) => {
  const el = (ev.target as HTMLElement).closest<HTMLElement>('[data-task-id]');
  if (el?.dataset.taskId) void openTask(el.dataset.taskId);
});
panel.addEventListener('click', (ev) => {
  if ((ev.target as HTMLElement).id === 'panel-close') {
    panel.hidden = true;
    delete panel.dataset.taskId;
  }
});
boardEl.addEventListener('scroll', schedule, { passive: true });
window.addEventListener('resize', schedule);
serviceSel.addEventListener('change', schedule);
stackSel.addEventListener('change', schedule);
// Ages on the cards move with the clock; the data does not (it arrives on the stream).
setInterval(schedule, 1000);
connect();
