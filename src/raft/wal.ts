/**
 * Raft's write-ahead log on disk: each Ready's hard state and entries as one CRC-framed record,
 * appended and fdatasync'ed before any message of that Ready leaves (one fsync per Ready, so many
 * proposals share it; a hard state that only moves the commit index is not written on its own but
 * with the next record). Replay rebuilds the hard state and the log (a record whose entries start at
 * or before the end truncates the suffix first). A torn final record is cut off; damage before the
 * end refuses to start. A local snapshot costs one small marker record (the appends behind it wait
 * for nothing more); once the segment has grown past SEGMENT_BYTES, the next snapshot starts a new
 * segment that carries the state after it, and the older segments go. A snapshot installed from the
 * leader always starts a new segment (its log replaces ours). Each segment opens with a plaintext
 * header (format, cipher); every record after it is sealed with the manager's data-encryption key.
 */
import path from 'node:path';
import { frame, scan } from '../common/record.js';
import type { DataCipher } from './cipher.js';
import { nodeFs, type RaftFs } from './fs.js';
import type { Entry, HardState, MemberId } from './types.js';
import { openSegmentFile, type OpenWalFile, type WalFile } from './wal-file.js';

export const WAL_FORMAT = 2;

export type { OpenWalFile, WalFile } from './wal-file.js';

interface SegmentHeader {
  format: number;
  cipher: string;
}

interface WireEntry {
  t: number;
  i: number;
  y: Entry['type'];
  d: string;
}

interface Record {
  hs?: HardState;
  entries?: WireEntry[];
  /** First record of a segment written after a snapshot: the snapshot point and its membership. */
  snap?: WalSnapshot;
}

export interface WalSnapshot {
  index: number;
  term: number;
  voters?: readonly MemberId[];
  learners?: readonly MemberId[];
  removed?: readonly MemberId[];
}

export interface WalState {
  hardState: HardState;
  entries: Entry[];
  snapshot: WalSnapshot | undefined;
}

/** A segment this large is replaced by a fresh one at the next snapshot. */
const SEGMENT_BYTES = 64 * 1024 * 1024;

const segName = (n: number): string => `wal-${String(n).padStart(16, '0')}.log`;

const toWire = (e: Entry): WireEntry => ({
  t: e.term,
  i: e.index,
  y: e.type,
  d: Buffer.from(e.data).toString('base64'),
});
const fromWire = (w: WireEntry): Entry => ({
  term: w.t,
  index: w.i,
  type: w.y,
  data: new Uint8Array(Buffer.from(w.d, 'base64')),
});

export class RaftWal {
  private fh: WalFile | undefined;
  /**
   * A write or sync that failed: what reached the file is unknown (a partial record, or a record the
   * kernel dropped after a failed fsync), so nothing more may go behind it. Only a restart, which
   * reads the file back and cuts a torn tail, makes the WAL usable again.
   */
  private broken: unknown;
  private seq = 0;
  /**
   * Term and vote as last written. A hard state that changes neither moves only the commit index,
   * which Raft may lose in a crash (it is learned again from the leader or the log), as etcd does
   * (its mustSync): it is not written on its own, sparing a write and a sync on every commit, but
   * kept in `pendingHs` and written with the next record (or at close).
   */
  private durable: { term: number; vote: string } | undefined;
  private pendingHs: HardState | undefined;
  /** Bytes in the current segment. */
  private size = 0;
  readonly stats = { syncs: 0, entries: 0 };
  private readonly openWal: OpenWalFile;

  constructor(
    private readonly dir: string,
    private readonly cipher: DataCipher,
    private readonly segmentBytes = SEGMENT_BYTES,
    openWal?: OpenWalFile,
    private readonly fs: RaftFs = nodeFs,
  ) {
    this.openWal = openWal ?? (fs === nodeFs ? openSegmentFile : (file, flags) => fs.open(file, flags));
  }

  /**
   * Reads the log back. Only the last record of the last segment may be torn (cut off); damage
   * anywhere else refuses to start, naming the file and offset, unless `repair` is given: then the
   * log is cut at the damage (later segments removed) and `repair` is told what was dropped.
   */
  async open(repair?: (dropped: string) => void): Promise<WalState> {
    await this.fs.mkdir(this.dir);
    let segs = (await this.fs.readdir(this.dir)).filter((f) => /^wal-\d+\.log$/.test(f)).sort();
    const state: WalState = { hardState: { term: 0, vote: '', commit: 0 }, entries: [], snapshot: undefined };
    for (const seg of segs) {
      const file = path.join(this.dir, seg);
      const buf = await this.fs.readFile(file);
      const last = seg === segs.at(-1);
      const r = scan(buf);
      let records: Buffer[];
      let validBytes: number;
      if (r.ok && (!r.tornTail || last)) {
        records = r.records;
        validBytes = r.validBytes;
        if (r.tornTail) await this.cutDurably(file, r.validBytes);
      } else {
        const offset = r.ok ? r.validBytes : r.offset;
        const why = r.ok ? 'damaged record at the end of a segment that is not the last' : r.reason;
        const later = segs.slice(segs.indexOf(seg) + 1);
        if (!repair)
          throw new Error(
            `raft WAL ${file} is corrupt at byte ${offset} (${why}); refusing to start (repairing would drop ${buf.length - offset} bytes from there${later.length ? ` and ${later.length} later segment(s)` : ''})`,
          );
        repair(
          `${file}: cut at byte ${offset} (${why}), dropping ${buf.length - offset} bytes${later.length ? ` and segments ${later.join(', ')}` : ''}`,
        );
        await this.cutDurably(file, offset);
        for (const f of later) await this.fs.rm(path.join(this.dir, f));
        if (later.length) await this.fs.syncDir(this.dir);
        segs = segs.slice(0, segs.indexOf(seg) + 1);
        records = r.records;
        validBytes = offset;
      }
      const [head, ...sealed] = records;
      if (!head) {
        // A segment whose header never reached the disk (a crash while cutting): nothing in it.
        if (seg === segs.at(-1)) {
          await this.fs.rm(file);
          continue;
        }
        throw new Error(`raft WAL ${file} has no header; refusing to start`);
      }
      const h = JSON.parse(head.toString('utf8')) as SegmentHeader;
      if (h.format !== WAL_FORMAT) throw new Error(`raft WAL ${file}: unsupported format ${h.format}`);
      if (h.cipher !== this.cipher.name)
        throw new Error(`raft WAL ${file} is sealed with ${h.cipher}, this manager uses ${this.cipher.name}`);
      for (const [i, raw] of sealed.entries()) {
        let plain: Buffer;
        try {
          plain = this.cipher.open('wal', raw);
        } catch {
          throw new Error(
            `raft WAL ${file}: record ${i + 1} fails authentication (wrong key or tampered); refusing to start`,
          );
        }
        const rec = JSON.parse(plain.toString('utf8')) as Record;
        if (rec.snap) {
          state.snapshot = rec.snap;
          state.entries = state.entries.filter((e) => e.index > rec.snap!.index);
        }
        if (rec.hs) state.hardState = rec.hs;
        if (rec.entries?.length) {
          const first = rec.entries[0]!.i;
          state.entries = state.entries.filter((e) => e.index < first).concat(rec.entries.map(fromWire));
        }
      }
      this.seq = Math.max(this.seq, Number(seg.slice(4, 20)));
      this.size = validBytes;
      if (seg === segs.at(-1)) break; // a repair removed the segments after this one
    }
    if (this.seq === 0) await this.newSegment();
    else {
      this.fh = await this.openWal(path.join(this.dir, segName(this.seq)), 'a');
      // What was read back may have been only in the page cache (the process died before its fsync
      // returned): make it durable before any of it is acknowledged. Older segments were synced
      // before the next one was started.
      await this.fh.datasync();
    }
    this.durable = { term: state.hardState.term, vote: state.hardState.vote };
    return state;
  }

  /**
   * Truncates a segment and syncs it: a cut that a power loss could undo would bring the torn tail
   * back behind records written after it (or in front of a later segment), which reads as corruption.
   */
  private async cutDurably(file: string, length: number): Promise<void> {
    await this.fs.truncate(file, length);
    const fh = await this.fs.open(file, 'a');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  /** Whether appending this would sync: entries, or a new term or vote, must be durable. */
  mustSync(hs: HardState | undefined, entries: readonly Entry[]): boolean {
    return (
      entries.length > 0 || (hs !== undefined && (hs.term !== this.durable?.term || hs.vote !== this.durable.vote))
    );
  }

  /**
   * Appends one Ready's worth as one synced record, and says whether it wrote: a hard state that only
   * moves the commit index waits for the next record instead.
   */
  async append(hs: HardState | undefined, entries: readonly Entry[]): Promise<boolean> {
    if (!this.mustSync(hs, entries)) {
      if (hs) this.pendingHs = hs;
      return false;
    }
    const rec: Record = {};
    if (hs) rec.hs = hs;
    if (entries.length) rec.entries = entries.map(toWire);
    await this.write(rec);
    this.stats.syncs++;
    this.stats.entries += entries.length;
    return true;
  }

  /**
   * A snapshot of our own applied state at `snap` is on disk. Usually a marker record is enough
   * (replay drops the entries it covers); a segment grown past its size is replaced instead.
   */
  async snapshotTaken(snap: WalSnapshot, hs: HardState, tail: readonly Entry[]): Promise<void> {
    if (this.size < this.segmentBytes) await this.write({ snap });
    else await this.cut(snap, hs, tail);
  }

  private sealed(rec: Record): Buffer {
    return frame(this.cipher.seal('wal', Buffer.from(JSON.stringify(rec))));
  }

  private async write(rec: Record): Promise<void> {
    const hs = rec.hs ?? this.pendingHs;
    const bytes = this.sealed(hs ? { ...rec, hs } : rec);
    await this.guarded(async (fh) => {
      await writeAll(fh, bytes);
      if (!fh.writesAreDurable) await fh.datasync();
    });
    this.size += bytes.length;
    this.pendingHs = undefined;
    if (hs) this.durable = { term: hs.term, vote: hs.vote };
  }

  /** Runs a write on the open segment; any failure leaves the WAL refusing every later write. */
  private async guarded(fn: (fh: WalFile) => Promise<void>): Promise<void> {
    if (this.broken !== undefined)
      throw new Error(`raft WAL: an earlier write failed (${String(this.broken)}); nothing more is appended`);
    if (!this.fh) throw new Error('raft WAL: not open');
    try {
      await fn(this.fh);
    } catch (e) {
      this.broken = e;
      throw e;
    }
  }

  /** After a snapshot at `snap`: a new segment holding what comes after it; older segments go. */
  async cut(snap: WalSnapshot, hs: HardState, tail: readonly Entry[]): Promise<void> {
    if (this.broken !== undefined)
      throw new Error(`raft WAL: an earlier write failed (${String(this.broken)}); nothing more is appended`);
    const old = this.seq;
    await this.fh?.close();
    await this.newSegment({ snap, hs, entries: tail.map(toWire) });
    for (const f of await this.fs.readdir(this.dir)) {
      if (/^wal-\d+\.log$/.test(f) && Number(f.slice(4, 20)) <= old) await this.fs.rm(path.join(this.dir, f));
    }
    // The old segments stay gone after a power loss (one with a torn tail must not come back).
    await this.fs.syncDir(this.dir);
  }

  /**
   * Closes the segment, writing a commit index still pending (so a clean restart knows it) unless
   * `flush` is false: the node stopped after a storage error and leaves the disk alone.
   */
  async close(flush = true): Promise<void> {
    if (flush && this.pendingHs && this.fh && this.broken === undefined) await this.write({}).catch(() => undefined);
    await this.fh?.close();
    this.fh = undefined;
  }

  private async newSegment(first?: Record): Promise<void> {
    this.seq++;
    const file = path.join(this.dir, segName(this.seq));
    this.fh = await this.openWal(file, 'w');
    const header: SegmentHeader = { format: WAL_FORMAT, cipher: this.cipher.name };
    const bytes = Buffer.concat([frame(Buffer.from(JSON.stringify(header))), ...(first ? [this.sealed(first)] : [])]);
    await this.guarded(async (fh) => {
      await writeAll(fh, bytes);
      await fh.datasync();
      await this.fs.syncDir(this.dir);
    });
    this.size = bytes.length;
    if (first?.hs) {
      this.durable = { term: first.hs.term, vote: first.hs.vote };
      this.pendingHs = undefined;
    }
  }
}

/** write(2) may take only part of a buffer (a filling disk): write the rest, or fail. */
async function writeAll(fh: WalFile, bytes: Buffer): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
    if (bytesWritten <= 0) throw new Error('raft WAL: the disk took no more bytes');
    off += bytesWritten;
  }
}
