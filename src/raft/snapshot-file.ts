/**
 * Raft snapshot files: a plaintext header record (format, the snapshot point and its membership, the
 * cipher) followed by the state machine's chunks, each sealed with the data-encryption key and
 * framed with a CRC, and an end marker (chunk count and SHA-256 of the chunks, sealed), so a file cut
 * at a record boundary is refused instead of restoring a smaller state. Written atomically (temp
 * file, fsync, rename, fsync of the directory) one chunk at a time; read back as a stream of chunks,
 * so no step holds the whole state in one string.
 */
import { createHash, type Hash } from 'node:crypto';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { frame, HEADER, scan } from '../common/record.js';
import type { DataCipher } from './cipher.js';
import { nodeFs, type RaftFile, type RaftFs } from './fs.js';
import type { SnapshotMeta } from './types.js';

/** 2: with the end marker. Format 1 files (no marker) are still read. */
export const SNAPSHOT_FILE_FORMAT = 2;

/** Counts and hashes the plaintext chunks on their way into a file, for the end marker. */
class EndMarker {
  private count = 0;
  private readonly hash: Hash = createHash('sha256');

  add(chunk: Uint8Array): void {
    this.count++;
    this.hash.update(chunk);
  }

  /** The sealed marker record. */
  seal(cipher: DataCipher): Buffer {
    return frame(
      cipher.seal('snapshot-end', Buffer.from(JSON.stringify({ count: this.count, sha256: this.hash.digest('hex') }))),
    );
  }

  /** Throws unless `sealed` is the marker of exactly the chunks seen. */
  check(file: string, cipher: DataCipher, sealed: Buffer | undefined): void {
    if (!sealed) throw new Error(`snapshot ${file} has no end marker (cut short); refusing to use it`);
    let end: { count?: unknown; sha256?: unknown };
    try {
      end = JSON.parse(cipher.open('snapshot-end', sealed).toString('utf8')) as typeof end;
    } catch {
      throw new Error(`snapshot ${file} has no valid end marker (cut short or tampered); refusing to use it`);
    }
    const digest = this.hash.digest('hex');
    if (end.count !== this.count || end.sha256 !== digest) {
      throw new Error(
        `snapshot ${file} holds ${this.count} chunks but its end marker says ${String(end.count)} (or another digest); refusing to use it`,
      );
    }
  }
}

interface Header {
  format: number;
  index: number;
  term: number;
  voters: string[];
  learners: string[];
  removed?: string[];
  cipher: string;
}

export const snapshotFileName = (index: number, term: number): string =>
  `snapshot-${String(index).padStart(16, '0')}-${term}.snap`;
export const isSnapshotFile = (f: string): boolean => /^snapshot-\d+-\d+\.snap$/.test(f);

export async function writeSnapshot(
  file: string,
  meta: SnapshotMeta,
  chunks: AsyncIterable<Uint8Array>,
  cipher: DataCipher,
  fs: RaftFs = nodeFs,
): Promise<void> {
  const header: Header = {
    format: SNAPSHOT_FILE_FORMAT,
    index: meta.index,
    term: meta.term,
    voters: [...meta.voters],
    learners: [...meta.learners],
    removed: [...(meta.removed ?? [])],
    cipher: cipher.name,
  };
  const tmp = `${file}.tmp`;
  const fh = await fs.open(tmp, 'w');
  const end = new EndMarker();
  try {
    await writeAll(fh, frame(Buffer.from(JSON.stringify(header))));
    for await (const c of chunks) {
      end.add(c);
      await writeAll(fh, frame(cipher.seal('snapshot', c)));
    }
    await writeAll(fh, end.seal(cipher));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  await fs.syncDir(path.dirname(file));
}

/** write(2) may take only part of a buffer (a filling disk): write the rest, or fail. */
async function writeAll(fh: RaftFile, bytes: Buffer): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
    if (bytesWritten <= 0) throw new Error('snapshot: the disk took no more bytes');
    off += bytesWritten;
  }
}

export interface SnapshotReader {
  meta: SnapshotMeta;
  chunks(): AsyncGenerator<Uint8Array>;
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The records of a framed file, read a piece at a time; damage anywhere is an error. */
async function* readRecords(file: string, fs: RaftFs): AsyncGenerator<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    let pos = 0;
    const head = Buffer.alloc(HEADER);
    for (;;) {
      const h = await fh.read(head, 0, HEADER, pos);
      if (h.bytesRead === 0) return;
      if (h.bytesRead < HEADER) throw new Error(`snapshot ${file} is truncated`);
      const len = head.readUInt32BE(0);
      const crc = head.readUInt32BE(4);
      const body = Buffer.alloc(len);
      const b = await fh.read(body, 0, len, pos + HEADER);
      if (b.bytesRead < len) throw new Error(`snapshot ${file} is truncated`);
      if (crc32(body) >>> 0 !== crc) throw new Error(`snapshot ${file} is corrupt at byte ${pos}`);
      pos += HEADER + len;
      yield body;
    }
  } finally {
    await fh.close();
  }
}

export async function readSnapshot(file: string, cipher: DataCipher, fs: RaftFs = nodeFs): Promise<SnapshotReader> {
  const records = readRecords(file, fs);
  const first = await records.next();
  await records.return(undefined); // closes the file; chunks() reads it again from the start
  if (first.done) throw new Error(`snapshot ${file} is empty`);
  const header = JSON.parse(first.value.toString('utf8')) as Header;
  if (header.format !== SNAPSHOT_FILE_FORMAT && header.format !== 1)
    throw new Error(`snapshot ${file}: unsupported format ${header.format}`);
  const marked = header.format >= 2;
  if (header.cipher !== cipher.name)
    throw new Error(`snapshot ${file} is sealed with ${header.cipher}, this manager uses ${cipher.name}`);
  return {
    meta: {
      index: header.index,
      term: header.term,
      voters: header.voters,
      learners: header.learners,
      removed: header.removed ?? [],
    },
    async *chunks() {
      const open = (rec: Buffer): Buffer => {
        try {
          return cipher.open('snapshot', rec);
        } catch {
          throw new Error(`snapshot ${file}: a chunk fails authentication (wrong key or tampered); refusing to use it`);
        }
      };
      const end = new EndMarker();
      let skippedHeader = false;
      // One record behind: the last one is the end marker, not a chunk.
      let held: Buffer | undefined;
      for await (const rec of readRecords(file, fs)) {
        if (!skippedHeader) {
          skippedHeader = true;
          continue;
        }
        if (!marked) {
          yield open(rec);
          await yieldToLoop();
          continue;
        }
        if (held) {
          const plain = open(held);
          end.add(plain);
          yield plain;
          await yieldToLoop();
        }
        held = rec;
      }
      if (marked) end.check(file, cipher, held);
    },
  };
}

export async function* payloadChunks(payload: Uint8Array): AsyncGenerator<Uint8Array> {
  const r = scan(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  if (!r.ok || r.tornTail) throw new Error('snapshot payload from the leader is damaged');
  for (const rec of r.records) {
    yield rec;
    await yieldToLoop();
  }
}

/** A snapshot arriving in parts from the leader, sealed with this member's key as it comes. */
export class IncomingSnapshot {
  private fh: RaftFile | undefined;
  private readonly end = new EndMarker();
  private next = 0;
  private chain: Promise<void> = Promise.resolve();
  private failed: unknown;

  private constructor(
    readonly from: string,
    readonly meta: SnapshotMeta,
    readonly file: string,
    /** The key this transfer is sealed with, whole. */
    readonly cipher: DataCipher,
    private readonly fs: RaftFs,
  ) {}

  static async begin(
    from: string,
    meta: SnapshotMeta,
    file: string,
    cipher: DataCipher,
    fs: RaftFs = nodeFs,
  ): Promise<IncomingSnapshot> {
    const inc = new IncomingSnapshot(from, meta, file, cipher, fs);
    inc.fh = await fs.open(file, 'w');
    const header: Header = {
      format: SNAPSHOT_FILE_FORMAT,
      index: meta.index,
      term: meta.term,
      voters: [...meta.voters],
      learners: [...meta.learners],
      removed: [...(meta.removed ?? [])],
      cipher: cipher.name,
    };
    await writeAll(inc.fh, frame(Buffer.from(JSON.stringify(header))));
    return inc;
  }

  matches(from: string, meta: SnapshotMeta): boolean {
    return from === this.from && meta.index === this.meta.index && meta.term === this.meta.term;
  }

  /** Queues one part; false if it is out of order (a part was lost: the transfer is void). */
  add(part: number, payload: Uint8Array): boolean {
    if (part !== this.next || this.failed) return false;
    this.next++;
    this.chain = this.chain.then(async () => {
      for await (const c of payloadChunks(payload)) {
        this.end.add(c);
        await writeAll(this.fh!, frame(this.cipher.seal('snapshot', c)));
      }
    });
    this.chain.catch((e: unknown) => (this.failed = e));
    return true;
  }

  /** All parts written: sync and close; the file is complete (under its staging name). */
  async finish(): Promise<void> {
    await this.chain;
    if (this.failed) throw this.failed;
    await writeAll(this.fh!, this.end.seal(this.cipher));
    await this.fh!.sync();
    await this.fh!.close();
    this.fh = undefined;
  }

  async abort(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    await this.fs.rm(this.file);
  }
}

/** Splits a snapshot's plaintext chunks into framed parts of about `partBytes` for the wire. */
export async function* snapshotParts(reader: SnapshotReader, partBytes: number): AsyncGenerator<Uint8Array> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const c of reader.chunks()) {
    const f = frame(Buffer.from(c));
    parts.push(f);
    size += f.length;
    if (size >= partBytes) {
      yield new Uint8Array(Buffer.concat(parts));
      parts = [];
      size = 0;
    }
  }
  yield new Uint8Array(Buffer.concat(parts));
}
