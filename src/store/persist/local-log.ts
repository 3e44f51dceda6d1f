/**
 * A one-member replicated log on local disk: the Proposer of a single manager until Raft sits behind
 * the same interface. Entries are appended with a CRC, many proposals share one fsync (group commit),
 * and an entry is applied and acknowledged only after its fsync. At start the latest snapshot and the
 * log after it are replayed; a torn tail is truncated, damage in the middle refuses to start.
 */
import { mkdir, open, readdir, readFile, rm, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { StoreAction } from '../actions.js';
import type { Proposer } from '../proposer.js';
import type { Store } from '../store.js';
import { frame, scan } from '../../common/record.js';
import { readSnapshotFile, writeSnapshotFile } from './snapshot.js';

const LOG_FORMAT = 1;

interface Entry {
  index: number;
  actions: readonly StoreAction[];
}

interface Pending {
  actions: readonly StoreAction[];
  resolve: (index: number) => void;
  reject: (e: unknown) => void;
}

const segName = (first: number): string => `log-${String(first).padStart(16, '0')}.wal`;
const snapName = (index: number): string => `snapshot-${String(index).padStart(16, '0')}.snap`;

export class LocalLog implements Proposer {
  private fh: FileHandle | undefined;
  private nextIndex = 1;
  private snapshotIndex = 0;
  private pending: Pending[] = [];
  private flushing = false;
  private snapshotting = false;
  private store: Store | undefined;
  private closed = false;
  /** Entries per fsync, for the benchmark and the note. */
  readonly stats = { fsyncs: 0, entries: 0 };

  constructor(
    private readonly dir: string,
    private readonly snapshotInterval = () => 10000,
  ) {}

  /** Replays snapshot + log into the store and opens the log for appends. */
  async open(store: Store): Promise<void> {
    this.store = store;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const files = (await readdir(this.dir)).sort();
    const snaps = files.filter((f) => f.startsWith('snapshot-') && f.endsWith('.snap'));
    const latest = snaps.at(-1);
    if (latest) {
      const snap = await readSnapshotFile(path.join(this.dir, latest));
      store.restore(snap.index, snap.objects);
      this.snapshotIndex = snap.index;
    }
    let last = this.snapshotIndex;
    for (const seg of files.filter((f) => f.startsWith('log-') && f.endsWith('.wal'))) {
      const file = path.join(this.dir, seg);
      const result = scan(await readFile(file));
      if (!result.ok) {
        throw new Error(`log ${file} is corrupt at byte ${result.offset} (${result.reason}); refusing to start`);
      }
      if (result.tornTail) await truncate(file, result.validBytes);
      const [head, ...rest] = result.records;
      if (head) {
        const h = JSON.parse(head.toString('utf8')) as { format?: number };
        if (h.format !== LOG_FORMAT) throw new Error(`log ${file}: unsupported format ${String(h.format)}`);
      }
      for (const rec of rest) {
        const e = JSON.parse(rec.toString('utf8')) as Entry;
        if (e.index <= last) continue;
        if (e.index !== last + 1) throw new Error(`log ${file}: gap before index ${e.index}; refusing to start`);
        store.apply(e.index, e.actions);
        last = e.index;
      }
    }
    this.nextIndex = last + 1;
    await this.openSegment();
  }

  propose(actions: readonly StoreAction[]): Promise<number> {
    if (this.closed) return Promise.reject(new Error('log closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ actions, resolve, reject });
      void this.flush();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.snapshotting) await new Promise((r) => setTimeout(r, 5));
    await this.fh?.close();
    this.fh = undefined;
  }

  get lastIndex(): number {
    return this.nextIndex - 1;
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        const entries = batch.map((p, i) => ({ index: this.nextIndex + i, actions: p.actions }));
        try {
          const buf = Buffer.concat(entries.map((e) => frame(Buffer.from(JSON.stringify(e)))));
          await this.fh!.write(buf);
          await this.fh!.datasync();
        } catch (e) {
          for (const p of batch) p.reject(e);
          continue;
        }
        this.stats.fsyncs++;
        this.stats.entries += entries.length;
        this.nextIndex += entries.length;
        for (const [i, e] of entries.entries()) {
          this.store!.apply(e.index, e.actions);
          batch[i]!.resolve(e.index);
        }
        if (this.lastIndex - this.snapshotIndex >= this.snapshotInterval()) await this.snapshot();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Writes a snapshot of the applied state and starts a new segment; older files are removed. */
  async snapshot(): Promise<void> {
    if (this.snapshotting || !this.store) return;
    this.snapshotting = true;
    try {
      const index = this.lastIndex;
      // Committed objects are replaced, never mutated, so a list of references is a consistent cut.
      const objects = [...this.store.dump()];
      await this.fh?.close();
      this.fh = undefined;
      await this.openSegment();
      await writeSnapshotFile(path.join(this.dir, snapName(index)), index, objects);
      this.snapshotIndex = index;
      for (const f of await readdir(this.dir)) {
        const old =
          (f.startsWith('snapshot-') && f.endsWith('.snap') && f !== snapName(index)) ||
          (f.startsWith('log-') && f.endsWith('.wal') && f < segName(index + 1));
        if (old) await rm(path.join(this.dir, f), { force: true });
      }
    } finally {
      this.snapshotting = false;
    }
  }

  private async openSegment(): Promise<void> {
    const file = path.join(this.dir, segName(this.nextIndex));
    this.fh = await open(file, 'a', 0o600);
    const st = await this.fh.stat();
    if (st.size === 0) {
      await this.fh.write(frame(Buffer.from(JSON.stringify({ format: LOG_FORMAT }))));
      await this.fh.datasync();
    }
  }
}
