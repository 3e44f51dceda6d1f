/**
 * The filesystem as Raft's storage sees it: the few calls the WAL and the snapshot files make. The
 * real one is node:fs; the simulator (src/raft/sim-disk.ts) gives a whole cluster disks that fail
 * writes and fsyncs, lose what was not synced at a crash, tear tails and flip bits, under one seed.
 */
import { mkdir, open, readdir, readFile, rename, rm, truncate } from 'node:fs/promises';
import { syncDir } from '../common/atomic-file.js';

/** An open file. Writes go at the end (flags 'a' and 'w' write sequentially); reads are positional. */
export interface RaftFile {
  write(buf: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  read(buf: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /** fdatasync(2): the file's data is on the platter. */
  datasync(): Promise<void>;
  /** fsync(2). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface RaftFs {
  /** 'a' appends, 'w' creates or empties (mode 0600), 'r' reads. */
  open(file: string, flags: 'a' | 'w' | 'r'): Promise<RaftFile>;
  readFile(file: string): Promise<Buffer>;
  readdir(dir: string): Promise<string[]>;
  /** Creates the directory and its parents (mode 0700); no error if it exists. */
  mkdir(dir: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; no error if it is missing. */
  rm(file: string): Promise<void>;
  truncate(file: string, length: number): Promise<void>;
  /** Makes creations, renames and removals in `dir` durable. */
  syncDir(dir: string): Promise<void>;
}

/** The host's filesystem. */
export const nodeFs: RaftFs = {
  open: (file, flags) => open(file, flags, 0o600),
  readFile: (file) => readFile(file),
  readdir: (dir) => readdir(dir),
  mkdir: async (dir) => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  },
  rename: (from, to) => rename(from, to),
  rm: (file) => rm(file, { force: true }),
  truncate: (file, length) => truncate(file, length),
  syncDir,
};
