/**
 * How late the Raft ticker fires: each tick's lateness (time since the previous tick minus the tick
 * period) with the wall-clock time it was taken, for the last few minutes. A late tick is a blocked
 * event loop; late by an election timeout, followers start an election. The edge (node.ts) feeds it
 * times; this file reads no clock.
 */
export interface TickLag {
  /** Ticks measured in the window. */
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Quantiles of lateness samples in milliseconds (0 for none). */
export function lagQuantiles(lags: readonly number[]): TickLag {
  if (lags.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...lags].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1)! };
}

export class TickMeter {
  private readonly at: Float64Array;
  private readonly lag: Float64Array;
  private next = 0;
  private filled = 0;
  private prev: number | undefined;

  constructor(
    private readonly periodMs: number,
    capacity = 4096,
  ) {
    this.at = new Float64Array(capacity);
    this.lag = new Float64Array(capacity);
  }

  /**
   * A tick fired: `monotonicMs` for the interval, `wallMs` to place it in time. Returns its lateness
   * in ms (undefined for the first tick, which has no interval).
   */
  tick(monotonicMs: number, wallMs: number): number | undefined {
    let late: number | undefined;
    if (this.prev !== undefined) {
      late = Math.max(0, monotonicMs - this.prev - this.periodMs);
      this.at[this.next] = wallMs;
      this.lag[this.next] = late;
      this.next = (this.next + 1) % this.at.length;
      this.filled = Math.min(this.filled + 1, this.at.length);
    }
    this.prev = monotonicMs;
    return late;
  }

  /** The samples taken at or after `sinceWallMs`, oldest first: [wall-clock ms, lateness ms]. */
  samples(sinceWallMs = 0): [number, number][] {
    const out: [number, number][] = [];
    const cap = this.at.length;
    for (let i = 0; i < this.filled; i++) {
      const k = (this.next - this.filled + i + cap) % cap;
      if (this.at[k]! >= sinceWallMs) out.push([this.at[k]!, Math.round(this.lag[k]! * 100) / 100]);
    }
    return out;
  }

  /** Lateness quantiles since `sinceWallMs`. */
  summary(sinceWallMs = 0): TickLag {
    return lagQuantiles(this.samples(sinceWallMs).map(([, l]) => l));
  }
}
