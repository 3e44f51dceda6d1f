/**
 * What one raft-kv member did, on the host's monotonic clock (µs, comparable across processes on one
 * machine), for bench/raft/tail.ts to line up with a client's requests: its garbage collections, its
 * WAL writes, and when it began and finished each request that carried an `x-seq` header.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, performance, type NodeGCPerformanceDetail, type PerformanceEntry } from 'node:perf_hooks';

/** [start µs, duration µs, extra]: extra is the GC kind, or the entries a WAL write held. */
export type Span = [number, number, number];
/** [seq, handler start µs, response finished µs]. */
export type Served = [number, number, number];

export interface TraceDump {
  id: string;
  gc: Span[];
  walWrites: Span[];
  requests: Served[];
}

export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Records this process's garbage collections as spans (from now on). */
export function observeGc(into: Span[]): void {
  // performance.now() counts from this process's start; hrtime from the host's boot.
  const offset = nowUs() - performance.now() * 1000;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: NodeGCPerformanceDetail }).detail?.kind ?? 0;
      into.push([Math.round(offset + e.startTime * 1000), Math.round(e.duration * 1000), kind]);
    }
  }).observe({ entryTypes: ['gc'] });
}

export class MemberTrace {
  private readonly dump: TraceDump;

  constructor(id: string) {
    this.dump = { id, gc: [], walWrites: [], requests: [] };
    observeGc(this.dump.gc);
  }

  /** A WAL write that just ended after `seconds` (RaftInstruments.walSync). */
  walSync(seconds: number, entries: number): void {
    const dur = Math.round(seconds * 1e6);
    this.dump.walWrites.push([nowUs() - dur, dur, entries]);
  }

  served(seq: number, startUs: number): void {
    this.dump.requests.push([seq, startUs, nowUs()]);
  }

  writeTo(file: string): void {
    writeFileSync(file, JSON.stringify(this.dump));
  }
}
