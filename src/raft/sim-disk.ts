/**
 * A simulated disk under RaftNode (through fs.ts) for tests and the simulator, on their seed and clock.
 * Each file has what the process sees (the page cache) and what is on the platter (synced); a
 * directory entry is on the platter once its directory was synced. Faults: EIO on a write or an
 * fsync, ENOSPC after a partial write, an fsync that fails and drops the unsynced pages (fsyncgate),
 * an fsync that lies (planted bug), power loss that keeps a torn or zero-filled piece of the
 * unsynced tail, a bit flipped in a synced record, and the whole disk lost.
 */
import path from 'node:path';
import type { Clock } from '../common/clock.js';
import { HEADER } from '../common/record.js';
import type { Random } from '../common/random.js';
import type { RaftFile, RaftFs } from './fs.js';

interface Inode {
  /** What the process reads and writes. */
  data: Buffer;
  /** What survives a power loss. */
  synced: Buffer;
}

/** How often each fault strikes an operation (0 = never). */
export interface DiskFaults {
  writeEio: number;
  writeEnospc: number;
  fsyncEio: number;
  /** A planted bug, not a fault to survive: fsync reports success without reaching the platter. */
  lyingFsync: number;
  /** Ticks an fsync takes, at most (the member keeps receiving messages meanwhile). */
  maxSyncTicks: number;
}

export const NO_FAULTS: DiskFaults = { writeEio: 0, writeEnospc: 0, fsyncEio: 0, lyingFsync: 0, maxSyncTicks: 0 };

const errno = (code: 'EIO' | 'ENOSPC' | 'ENOENT', what: string): Error =>
  Object.assign(
    new Error(
      `${code}: simulated ${code === 'EIO' ? 'i/o error' : code === 'ENOSPC' ? 'no space left on device' : 'no such file or directory'}, ${what}`,
    ),
    { code },
  );

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

export class SimDisk {
  private live = new Map<string, Inode>();
  private durable = new Map<string, Inode>();
  /** A process generation: operations of a process that died never complete. */
  private generation = 0;
  /** Counts of faults that struck, for the run's stats. */
  readonly struck = { writeEio: 0, writeEnospc: 0, fsyncEio: 0, lies: 0, torn: 0, zeroFilled: 0, flips: 0 };
  /** Bumped by every operation, so the simulator knows when the event loop has gone quiet. */
  ops = 0;

  constructor(
    private readonly rng: Random,
    private readonly clock: Clock,
    private readonly tickMs: number,
    public faults: DiskFaults,
  ) {}

  /**
   * The filesystem for a new process on this disk. `pausedUntil` is the process's: while it is
   * paused (stopped by the scheduler, a long GC) its disk operations wait too, then run.
   */
  fs(pausedUntil: () => number = () => 0): RaftFs {
    const gen = ++this.generation;
    const alive = (): boolean => gen === this.generation;
    const guard = <T>(fn: () => T | Promise<T>): Promise<T> => {
      this.ops++;
      if (!alive()) return never();
      return this.whenRunning(pausedUntil, alive, fn);
    };
    const get = (file: string): Inode => {
      const f = this.live.get(file);
      if (!f) throw errno('ENOENT', file);
      return f;
    };
    return {
      open: (file, flags) =>
        guard(() => {
          let f = this.live.get(file);
          if (flags === 'r' && !f) throw errno('ENOENT', `open '${file}'`);
          if (!f) {
            f = { data: Buffer.alloc(0), synced: Buffer.alloc(0) };
            this.live.set(file, f);
          } else if (flags === 'w') f.data = Buffer.alloc(0);
          return this.handle(f, file, alive, pausedUntil);
        }),
      readFile: (file) => guard(() => Buffer.from(get(file).data)),
      readdir: (dir) =>
        guard(() => [...this.live.keys()].filter((p) => path.dirname(p) === dir).map((p) => path.basename(p))),
      mkdir: () => guard(() => undefined),
      rename: (from, to) =>
        guard(() => {
          const f = get(from);
          this.live.delete(from);
          this.live.set(to, f);
        }),
      rm: (file) => guard(() => void this.live.delete(file)),
      truncate: (file, length) =>
        guard(() => {
          const f = get(file);
          f.data = Buffer.from(f.data.subarray(0, length));
        }),
      syncDir: (dir) =>
        guard(() => {
          for (const p of [...this.durable.keys()])
            if (path.dirname(p) === dir && !this.live.has(p)) this.durable.delete(p);
          for (const [p, f] of this.live) if (path.dirname(p) === dir) this.durable.set(p, f);
        }),
    };
  }

  /** Runs `fn` now, or once the process is no longer paused (never if it died meanwhile). */
  private whenRunning<T>(pausedUntil: () => number, alive: () => boolean, fn: () => T | Promise<T>): Promise<T> {
    const wait = pausedUntil() - this.clock.now();
    const run = (): Promise<T> => {
      try {
        return Promise.resolve(fn());
      } catch (e) {
        return Promise.reject(e);
      }
    };
    if (wait <= 0) return run();
    return new Promise<T>((resolve, reject) =>
      this.clock.setTimer(wait, () => {
        if (alive()) this.whenRunning(pausedUntil, alive, fn).then(resolve, reject);
      }),
    );
  }

  private handle(f: Inode, file: string, alive: () => boolean, pausedUntil: () => number): RaftFile {
    let full = false;
    const gated =
      <A extends unknown[], T>(op: (...args: A) => Promise<T>) =>
      (...args: A): Promise<T> => {
        if (pausedUntil() <= this.clock.now()) return op(...args);
        this.ops++;
        if (!alive()) return never();
        return this.whenRunning(pausedUntil, alive, () => op(...args));
      };
    const sync = (): Promise<void> => {
      this.ops++;
      if (!alive()) return never();
      const ticks = this.faults.maxSyncTicks ? this.rng.int(this.faults.maxSyncTicks + 1) : 0;
      const fail = this.rng.next() < this.faults.fsyncEio;
      const lie = !fail && this.rng.next() < this.faults.lyingFsync;
      const finish = (): void => {
        if (fail) {
          this.struck.fsyncEio++;
          // fsyncgate: the kernel may have dropped the dirty pages; what is read back is the platter's.
          if (this.rng.next() < 0.5) f.data = Buffer.from(f.synced);
          throw errno('EIO', `fsync '${file}'`);
        }
        if (lie) this.struck.lies++;
        else f.synced = Buffer.from(f.data);
      };
      if (ticks === 0) {
        try {
          finish();
          return Promise.resolve();
        } catch (e) {
          return Promise.reject(e);
        }
      }
      return new Promise<void>((resolve, reject) =>
        this.clock.setTimer(ticks * this.tickMs, () => {
          if (!alive()) return; // the process died while it waited
          try {
            finish();
            resolve();
          } catch (e) {
            reject(e);
          }
        }),
      );
    };
    return {
      write: gated((buf: Buffer, offset: number, length: number) => {
        this.ops++;
        if (!alive()) return never();
        if (full || this.rng.next() < this.faults.writeEnospc) {
          // The disk fills up: part of the buffer may land, then nothing more.
          if (!full) this.struck.writeEnospc++;
          const part = full ? 0 : this.rng.int(length);
          full = true;
          if (part === 0) return Promise.reject(errno('ENOSPC', `write '${file}'`));
          f.data = Buffer.concat([f.data, buf.subarray(offset, offset + part)]);
          return Promise.resolve({ bytesWritten: part });
        }
        if (this.rng.next() < this.faults.writeEio) {
          this.struck.writeEio++;
          return Promise.reject(errno('EIO', `write '${file}'`));
        }
        f.data = Buffer.concat([f.data, buf.subarray(offset, offset + length)]);
        return Promise.resolve({ bytesWritten: length });
      }),
      read: gated((buf: Buffer, offset: number, length: number, position: number) => {
        this.ops++;
        if (!alive()) return never();
        const n = Math.max(0, Math.min(length, f.data.length - position));
        f.data.copy(buf, offset, position, position + n);
        return Promise.resolve({ bytesRead: n });
      }),
      datasync: gated(sync),
      sync: gated(sync),
      close: () => (alive() ? Promise.resolve() : never()),
    };
  }

  /**
   * The process dies. With `powerLoss`, what was not synced is gone, except that a file's unsynced
   * tail may have partly reached the platter, torn or as zeros (the size was updated, the data not).
   */
  crash(powerLoss: boolean, tail?: 'torn' | 'zero'): void {
    this.generation++;
    if (!powerLoss) return;
    this.live = new Map(this.durable);
    for (const f of new Set(this.live.values())) {
      const extends_ = f.data.length > f.synced.length && f.data.subarray(0, f.synced.length).equals(f.synced);
      const unsynced = f.data.length - f.synced.length;
      if (extends_ && tail !== undefined && unsynced > 1) {
        // Forced: part of the tail, never all of it.
        const keep = 1 + this.rng.int(unsynced - 1);
        if (tail === 'zero') {
          this.struck.zeroFilled++;
          f.synced = Buffer.concat([f.synced, Buffer.alloc(keep)]);
        } else {
          this.struck.torn++;
          f.synced = Buffer.from(f.data.subarray(0, f.synced.length + keep));
        }
      } else if (extends_ && tail === undefined && this.rng.next() < 0.3) {
        const keep = this.rng.int(unsynced + 1);
        if (this.rng.next() < 0.5) {
          this.struck.zeroFilled++;
          f.synced = Buffer.concat([f.synced, Buffer.alloc(keep)]);
        } else {
          this.struck.torn++;
          f.synced = Buffer.from(f.data.subarray(0, f.synced.length + keep));
        }
      }
      f.data = Buffer.from(f.synced);
    }
  }

  /** The disk is gone (replaced by an empty one). */
  wipe(): void {
    this.generation++;
    this.live.clear();
    this.durable.clear();
  }

  /**
   * Flips one bit inside a synced record of a WAL segment that is not that segment's last record
   * (a flip in the very last record cannot be told from a torn write). Returns the file, or
   * undefined if no such record exists. Only while the process is down.
   */
  flipBit(dir: string): string | undefined {
    const segs = [...this.durable.keys()].filter((p) => path.dirname(p) === dir && /wal-\d+\.log$/.test(p)).sort();
    for (const file of segs) {
      const f = this.durable.get(file)!;
      const starts: number[] = [];
      for (let off = 0; off + HEADER <= f.synced.length;) {
        const len = f.synced.readUInt32BE(off);
        if (len === 0 || off + HEADER + len > f.synced.length) break;
        starts.push(off);
        off += HEADER + len;
      }
      // The header record (index 0) and a sealed record before the last one.
      if (starts.length < 3) continue;
      const i = 1 + this.rng.int(starts.length - 2);
      const at = starts[i]! + HEADER + this.rng.int(f.synced.readUInt32BE(starts[i]!));
      f.synced = Buffer.from(f.synced);
      f.synced[at] = f.synced[at]! ^ (1 << this.rng.int(8));
      f.data = Buffer.from(f.synced);
      this.struck.flips++;
      return file;
    }
    return undefined;
  }
}
