/**
 * The in-memory view of a member's log: entries after the last compaction point, with the term of
 * that point kept so the consistency check still works at the boundary.
 *
 * Entries are held in columns (terms, types, and each payload's place in a shared arena) rather
 * than as one object with its own buffer each. A log holds every entry since the last snapshot,
 * 100,000 of them between snapshots, and the garbage collector copies and marks every object it
 * holds: at one object and one ArrayBuffer per entry, the leader's collector paused it about 1% of
 * the time, which was the slowest 1% of lone writes (bench/raft). Columns of small integers and
 * payload bytes in large shared buffers are no work for it. Entries are made on demand (`slice`);
 * their data are views of the arena, which is never written twice (truncation leaves the bytes
 * behind), so a view handed out stays valid for as long as its holder keeps it.
 */
import type { Entry, EntryType } from './types.js';

/** Size of one arena buffer; a payload larger than a quarter of it is kept in a buffer of its own. */
const ARENA_BYTES = 256 * 1024;
const OWN_BUFFER_BYTES = ARENA_BYTES / 4;

export class RaftLog {
  /** Column i describes the entry with index offset + 1 + i. */
  private terms: number[] = [];
  private types: EntryType[] = [];
  private buffers: Uint8Array[] = [];
  private starts: number[] = [];
  private lengths: number[] = [];
  private arena = new Uint8Array(0);
  private arenaUsed = 0;

  constructor(
    private offset = 0,
    private offsetTerm = 0,
  ) {}

  get firstIndex(): number {
    return this.offset + 1;
  }

  get lastIndex(): number {
    return this.offset + this.terms.length;
  }

  get lastTerm(): number {
    return this.termAt(this.lastIndex) ?? 0;
  }

  /** Term of the entry at index, or undefined if unknown (compacted away or beyond the end). */
  termAt(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex) return undefined;
    return this.terms[index - this.offset - 1];
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset || index > this.lastIndex) return undefined;
    return this.at(index - this.offset - 1);
  }

  /** Entries in [lo, hi], at most maxCount of them. */
  slice(lo: number, hi: number, maxCount = Infinity): Entry[] {
    const from = Math.max(lo, this.firstIndex);
    const to = Math.min(hi, this.lastIndex, from + maxCount - 1);
    const out: Entry[] = [];
    for (let i = from; i <= to; i++) out.push(this.at(i - this.offset - 1));
    return out;
  }

  /** Keeps a copy of the entry's payload: the caller's buffer is not retained. */
  append(e: Entry): void {
    if (e.index !== this.lastIndex + 1) throw new Error(`raft log: append of index ${e.index} after ${this.lastIndex}`);
    const n = e.data.byteLength;
    let buf: Uint8Array;
    let start: number;
    if (n > OWN_BUFFER_BYTES) {
      buf = new Uint8Array(e.data); // a copy (Buffer's slice would be a view)
      start = 0;
    } else {
      if (this.arenaUsed + n > this.arena.byteLength) {
        this.arena = new Uint8Array(ARENA_BYTES);
        this.arenaUsed = 0;
      }
      buf = this.arena;
      start = this.arenaUsed;
      buf.set(e.data, start);
      this.arenaUsed += n;
    }
    this.terms.push(e.term);
    this.types.push(e.type);
    this.buffers.push(buf);
    this.starts.push(start);
    this.lengths.push(n);
  }

  /** Drops entries from index on (a conflicting suffix). Their bytes stay where they are, unused. */
  truncateFrom(index: number): void {
    if (index <= this.offset)
      throw new Error(`raft log: cannot truncate into the compacted prefix (${index} <= ${this.offset})`);
    const keep = Math.max(0, index - this.offset - 1);
    for (const col of this.columns()) col.length = Math.min(col.length, keep);
  }

  /** Discards entries up to and including index (they are in a snapshot). */
  compact(index: number): void {
    if (index <= this.offset) return;
    const term = this.termAt(index);
    if (term === undefined) throw new Error(`raft log: compact beyond the end (${index})`);
    const drop = index - this.offset;
    this.terms = this.terms.slice(drop);
    this.types = this.types.slice(drop);
    this.buffers = this.buffers.slice(drop);
    this.starts = this.starts.slice(drop);
    this.lengths = this.lengths.slice(drop);
    this.offset = index;
    this.offsetTerm = term;
  }

  /** The snapshot boundary: index and term of the last compacted entry. */
  get compactedTo(): { index: number; term: number } {
    return { index: this.offset, term: this.offsetTerm };
  }

  /** Throws the whole log away for a snapshot from the leader: it now starts after (index, term). */
  resetTo(index: number, term: number): void {
    for (const col of this.columns()) col.length = 0;
    this.offset = index;
    this.offsetTerm = term;
  }

  /** Raft §5.4.1: is a candidate's log at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  private at(i: number): Entry {
    const start = this.starts[i]!;
    return {
      term: this.terms[i]!,
      index: this.offset + 1 + i,
      type: this.types[i]!,
      data: this.buffers[i]!.subarray(start, start + this.lengths[i]!),
    };
  }

  private columns(): unknown[][] {
    return [this.terms, this.types, this.buffers, this.starts, this.lengths];
  }
}
