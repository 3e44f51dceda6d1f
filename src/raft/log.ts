/**
 * The in-memory view of a member's log: entries after the last compaction point, with the term of
 * that point kept so the consistency check still works at the boundary.
 */
import type { Entry } from './types.js';

export class RaftLog {
  /** entries[i] has index offset + 1 + i. */
  private entries: Entry[] = [];

  constructor(
    private offset = 0,
    private offsetTerm = 0,
  ) {}

  get firstIndex(): number {
    return this.offset + 1;
  }

  get lastIndex(): number {
    return this.offset + this.entries.length;
  }

  get lastTerm(): number {
    return this.termAt(this.lastIndex) ?? 0;
  }

  /** Term of the entry at index, or undefined if unknown (compacted away or beyond the end). */
  termAt(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex) return undefined;
    return this.entries[index - this.offset - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset || index > this.lastIndex) return undefined;
    return this.entries[index - this.offset - 1];
  }

  /** Entries in [lo, hi], at most maxCount of them. */
  slice(lo: number, hi: number, maxCount = Infinity): Entry[] {
    const from = Math.max(lo, this.firstIndex);
    const to = Math.min(hi, this.lastIndex, from + maxCount - 1);
    if (to < from) return [];
    return this.entries.slice(from - this.offset - 1, to - this.offset);
  }

  append(e: Entry): void {
    if (e.index !== this.lastIndex + 1) throw new Error(`raft log: append of index ${e.index} after ${this.lastIndex}`);
    this.entries.push(e);
  }

  /** Drops entries from index on (a conflicting suffix). */
  truncateFrom(index: number): void {
    if (index <= this.offset)
      throw new Error(`raft log: cannot truncate into the compacted prefix (${index} <= ${this.offset})`);
    this.entries.length = Math.max(0, index - this.offset - 1);
  }

  /** Discards entries up to and including index (they are in a snapshot). */
  compact(index: number): void {
    if (index <= this.offset) return;
    const term = this.termAt(index);
    if (term === undefined) throw new Error(`raft log: compact beyond the end (${index})`);
    this.entries = this.entries.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = term;
  }

  /** The snapshot boundary: index and term of the last compacted entry. */
  get compactedTo(): { index: number; term: number } {
    return { index: this.offset, term: this.offsetTerm };
  }

  /** Throws the whole log away for a snapshot from the leader: it now starts after (index, term). */
  resetTo(index: number, term: number): void {
    this.entries = [];
    this.offset = index;
    this.offsetTerm = term;
  }

  /** Raft §5.4.1: is a candidate's log at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }
}
