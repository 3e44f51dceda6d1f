/**
 * The board as HTML: one column per node, rendered only for the columns in view (the rest are
 * spacers), and in each column at most MAX_CARDS task cards; the others are counted per service and
 * state. So 500 nodes and 5,000 tasks cost about what the visible dozen columns cost.
 */
import type { UiNode, UiTask } from '../wire.js';
import { UNASSIGNED, type BoardState } from './board-state.js';
import { age, bytes, cpus, esc, hue } from './format.js';

export const COLUMN_WIDTH = 236;
const MAX_CARDS = 40;
/** Columns rendered beyond each edge of the view, so a scroll shows something at once. */
const OVERSCAN = 2;

export interface Filters {
  service: string;
  stack: string;
}

export function matches(state: BoardState, f: Filters, t: UiTask): boolean {
  if (f.service && t.serviceId !== f.service) return false;
  if (f.stack && state.services.get(t.serviceId)?.stack !== f.stack) return false;
  return true;
}

/** Desired states that mean the task is on its way out (a drain, an update, a node that went down). */
const LEAVING = new Set(['shutdown', 'remove', 'complete', 'failed', 'rejected', 'orphaned']);

function card(t: UiTask, now: number): string {
  const h = hue(t.serviceId);
  const leaving = LEAVING.has(t.desired) && !LEAVING.has(t.state);
  const state = leaving ? `${t.state} → ${t.desired}` : t.state;
  const err = t.err ? `<div class="err">${esc(t.err)}</div>` : '';
  return (
    `<div class="card st-${esc(t.state)}${leaving ? ' leaving' : ''}" data-task-id="${esc(t.id)}" data-state="${esc(t.state)}" style="--hue:${h}" title="${esc(t.message)}">` +
    `<div class="row"><b>${esc(t.name)}</b><span class="state">${esc(state)}</span></div>` +
    `<div class="row"><span class="img">${esc(t.image)}</span><span class="age">${age(now - t.since)}</span></div>` +
    `${err}</div>`
  );
}

function bar(used: number, total: number): string {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return `<span class="bar"><span style="width:${pct.toFixed(1)}%"></span></span>`;
}

function header(state: BoardState, n: UiNode): string {
  const r = state.reserved(n.id);
  const role =
    n.role === 'manager'
      ? `manager · ${n.leader ? '<b class="leader">Leader</b>' : esc(n.reachability ?? 'unknown')}`
      : 'worker';
  return (
    `<h2 title="${esc(n.id)} ${esc(n.addr)}">${esc(n.hostname)}${n.id === state.self ? ' <small>(this)</small>' : ''}</h2>` +
    `<div class="meta">${role}</div>` +
    `<div class="meta"><span class="node-state">${esc(n.state)}</span> · <span class="avail">${esc(n.availability)}</span> · engine ${esc(n.engine)}</div>` +
    `<div class="res">CPU ${cpus(r.nanoCpus)}/${cpus(n.nanoCpus)} ${bar(r.nanoCpus, n.nanoCpus)}</div>` +
    `<div class="res">MEM ${bytes(r.memoryBytes)}/${bytes(n.memoryBytes)} ${bar(r.memoryBytes, n.memoryBytes)}</div>`
  );
}

function tasksOf(state: BoardState, f: Filters, nodeId: string): UiTask[] {
  const out: UiTask[] = [];
  for (const id of state.byNode.get(nodeId) ?? []) {
    const t = state.tasks.get(id);
    if (t && matches(state, f, t)) out.push(t);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
}

/** What does not fit as cards: `web: 12 running, 3 pending`. */
function summary(state: BoardState, rest: UiTask[]): string {
  if (rest.length === 0) return '';
  const per = new Map<string, Map<string, number>>();
  for (const t of rest) {
    const name = state.services.get(t.serviceId)?.name ?? t.serviceId;
    const m = per.get(name) ?? new Map<string, number>();
    m.set(t.state, (m.get(t.state) ?? 0) + 1);
    per.set(name, m);
  }
  const lines = [...per].map(
    ([name, m]) => `<div>${esc(name)}: ${[...m].map(([s, c]) => `${c} ${esc(s)}`).join(', ')}</div>`,
  );
  return `<div class="more">+${rest.length} more<br>${lines.join('')}</div>`;
}

function column(state: BoardState, f: Filters, n: UiNode | undefined, now: number): string {
  const id = n?.id ?? UNASSIGNED;
  const tasks = tasksOf(state, f, id);
  const cards = tasks.slice(0, MAX_CARDS).map((t) => card(t, now));
  const cls = n ? `col node-${esc(n.state)} avail-${esc(n.availability)}` : 'col unassigned';
  const attrs = n
    ? `data-node-id="${esc(n.id)}" data-state="${esc(n.state)}" data-availability="${esc(n.availability)}"`
    : 'data-node-id=""';
  const head = n ? header(state, n) : '<h2>unassigned</h2><div class="meta">tasks no node has yet</div>';
  return `<section class="${cls}" ${attrs}>${head}<div class="cards">${cards.join('')}</div>${summary(state, tasks.slice(MAX_CARDS))}</section>`;
}

/** The columns between `scrollLeft` and its view's right edge, with spacers for the rest. */
export function board(state: BoardState, f: Filters, scrollLeft: number, viewWidth: number, now: number): string {
  const nodes: (UiNode | undefined)[] = state.orderedNodes();
  if ((state.byNode.get(UNASSIGNED)?.size ?? 0) > 0) nodes.unshift(undefined);
  const first = Math.max(0, Math.floor(scrollLeft / COLUMN_WIDTH) - OVERSCAN);
  const last = Math.min(nodes.length, Math.ceil((scrollLeft + viewWidth) / COLUMN_WIDTH) + OVERSCAN);
  const cols = nodes.slice(first, last).map((n) => column(state, f, n, now));
  const left = first * COLUMN_WIDTH;
  const right = (nodes.length - last) * COLUMN_WIDTH;
  return `<div class="spacer" style="width:${left}px"></div>${cols.join('')}<div class="spacer" style="width:${right}px"></div>`;
}

/** The line above the board: nodes by state and tasks by state, for the whole cluster. */
export function totals(state: BoardState, f: Filters): string {
  let ready = 0;
  let down = 0;
  let drain = 0;
  for (const n of state.nodes.values()) {
    if (n.state === 'ready') ready++;
    else down++;
    if (n.availability === 'drain') drain++;
  }
  const byState = new Map<string, number>();
  let shown = 0;
  for (const t of state.tasks.values()) {
    if (!matches(state, f, t)) continue;
    shown++;
    byState.set(t.state, (byState.get(t.state) ?? 0) + 1);
  }
  const states = [...byState].sort((a, b) => b[1] - a[1]).map(([s, c]) => `${c} ${esc(s)}`);
  return (
    `<span>${state.nodes.size} nodes: ${ready} ready, ${down} not ready, ${drain} drained</span>` +
    `<span>${state.services.size} services</span>` +
    `<span id="task-total" data-count="${shown}">${shown} tasks${states.length ? `: ${states.join(', ')}` : ''}</span>`
  );
}
