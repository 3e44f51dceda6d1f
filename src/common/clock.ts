/** Time as a dependency, so deterministic cores can run under a simulated clock (DESIGN.md, Determinism). */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs fn after ms; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** The wall clock of the host; used only at the edges (daemon, agent). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
};

interface PendingTimer {
  readonly at: number;
  readonly seq: number;
  /** Cleared when the timer fires or is cancelled. */
  fn: (() => void) | undefined;
}

const before = (a: PendingTimer, b: PendingTimer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/**
 * A clock that only moves when told to; timers fire in (time, creation) order. A binary heap: the
 * Raft simulator keeps thousands of timers pending (messages in flight, ticks, slow fsyncs), and
 * re-sorting them for every timer that fires was most of its time.
 */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly heap: PendingTimer[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const t: PendingTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    const h = this.heap;
    let i = h.push(t) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(t, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = t;
    return () => {
      t.fn = undefined;
    };
  }

  /** Advances time by ms, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.heap[0];
      if (!next || next.at > target) break;
      this.pop();
      if (!next.fn) continue;
      this.current = next.at;
      const fn = next.fn;
      next.fn = undefined;
      fn();
    }
    this.current = target;
  }

  pendingTimers(): number {
    return this.heap.filter((t) => t.fn).length;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}

/** Go's zero time, which Docker prints for unset timestamps. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** RFC 3339 with nanosecond digits, as Docker formats timestamps. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}
