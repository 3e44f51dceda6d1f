/**
 * A WAL segment on the host's filesystem: opened O_DSYNC, written at a position we keep, over space
 * filled with zeros ahead of the records.
 *
 * Why the zeros: appending to a file grows it, and on ext4 (and most journaling filesystems) a
 * synced write that changes the file's size must also commit the journal, a second device write
 * through the journal thread, shared by every process on that filesystem. Overwriting blocks that
 * already hold synced zeros changes no metadata, so a record costs one data write. Measured here
 * (ext4 on virtio, 400-byte records, three writers at once, bench/raft/wal-write.ts): p50 0.78x,
 * p99 0.79x of appending; inside bench/raft's 1-writer load, WAL writes over 1 ms went from 3.5-4.6%
 * to about 1%. etcd preallocates its segments for the same reason.
 *
 * The zeros read back as a torn tail (record.ts: a zero length is damage), which the WAL cuts at
 * start; a segment that is closed normally is trimmed to its records first, so only the last
 * segment can ever carry zeros (an older one with a zero tail would read as corruption).
 */
import { constants, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';

const { O_CREAT, O_DSYNC, O_TRUNC, O_WRONLY } = constants;

/** The append side of a segment file: the seam where tests inject EIO, ENOSPC and short writes. */
export interface WalFile {
  /**
   * The host's segments are opened O_DSYNC (openSegmentFile): a write returns once its bytes are
   * durable, so a record costs one write instead of two calls (write, then fdatasync).
   */
  readonly writesAreDurable?: boolean;
  write(buf: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export type OpenWalFile = (file: string, flags: 'a' | 'w') => Promise<WalFile>;

/**
 * Zeros are written this far ahead, in the background once less than half of it is left; a record
 * needing more waits for them.
 */
export const ZERO_AHEAD = 1024 * 1024;

/**
 * A record of up to SYNC_WRITE_MAX bytes (every Ready's record in practice) is written from the
 * event loop itself: handing it to the thread pool costs a wake-up of a pool thread and then one of
 * the loop per record, and on a machine with few cores each wake-up may wait for a CPU (bench/raft
 * in paired rounds on 2 vCPUs: a narrower 1-writer tail in 4 of 5, 64 writers as fast or faster).
 * The loop has little to do meanwhile that Raft could use: the next Ready waits for this one, as in
 * etcd, whose Raft loop saves to its WAL inline, and a leader's appends left before the write. A
 * larger record goes to the pool, and a leader applies what the followers' answers commit meanwhile
 * (node.ts).
 */
const SYNC_WRITE_MAX = 1024 * 1024;

const zeros = Buffer.alloc(ZERO_AHEAD);

export const openSegmentFile: OpenWalFile = async (file, flags) => {
  const fh = await open(file, (flags === 'w' ? O_TRUNC : 0) | O_WRONLY | O_CREAT | O_DSYNC, 0o600);
  /** Where the next record goes ('a': the WAL cut any zero tail before opening). */
  let end = flags === 'w' ? 0 : (await fh.stat()).size;
  /** The file's size: zeros from `end` up to here. */
  let zeroedTo = end;
  let zeroing: Promise<void> | undefined;
  /** A write failed: what is on disk past `end` is unknown, so close leaves the file as it is. */
  let failed = false;

  /** Writes zeros from `zeroedTo` on (O_DSYNC: they and the new size are durable when this ends). */
  const zeroAhead = (): Promise<void> => {
    zeroing ??= (async () => {
      try {
        let at = zeroedTo;
        while (at < zeroedTo + ZERO_AHEAD) {
          const { bytesWritten } = await fh.write(zeros, 0, zeroedTo + ZERO_AHEAD - at, at);
          if (bytesWritten <= 0) throw new Error('raft WAL: the disk took no more bytes');
          at += bytesWritten;
        }
        zeroedTo = at;
      } finally {
        zeroing = undefined;
      }
    })();
    return zeroing;
  };

  return {
    writesAreDurable: true,
    write: async (buf, offset, length) => {
      try {
        while (end + length > zeroedTo) await zeroAhead();
        const bytesWritten =
          length > SYNC_WRITE_MAX
            ? (await fh.write(buf, offset, length, end)).bytesWritten
            : writeSync(fh.fd, buf, offset, length, end);
        end += bytesWritten;
        // Start the next zeros early so a record rarely waits for them; a failure there surfaces
        // when a record needs that space (the write above), not before.
        if (zeroedTo - end < ZERO_AHEAD / 2) zeroAhead().catch(() => undefined);
        return { bytesWritten };
      } catch (e) {
        failed = true;
        throw e;
      }
    },
    datasync: () => fh.datasync(),
    close: async () => {
      try {
        await zeroing?.catch(() => undefined);
        if (!failed && zeroedTo > end) {
          await fh.truncate(end);
          await fh.datasync();
        }
      } finally {
        await fh.close();
      }
    },
  };
};
