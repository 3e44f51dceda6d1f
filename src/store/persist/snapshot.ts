/**
 * Store snapshots as newline-delimited JSON, produced and consumed in chunks: a 100 MB state is
 * written a few hundred objects at a time, yielding to the event loop in between, never as one
 * JSON.stringify. Written atomically: temp file, fsync, rename, fsync of the directory.
 */
import { createReadStream } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { AnyObject, Table } from '../types.js';

export const SNAPSHOT_FORMAT = 1;
const CHUNK = 500;

export interface SnapshotHeader {
  format: number;
  index: number;
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Encodes objects into lines, a chunk at a time. */
export async function* encodeSnapshot(
  index: number,
  objects: Iterable<{ table: Table; object: AnyObject }>,
): AsyncGenerator<string> {
  const header: SnapshotHeader = { format: SNAPSHOT_FORMAT, index };
  let chunk = JSON.stringify(header) + '\n';
  let n = 0;
  for (const o of objects) {
    chunk += JSON.stringify([o.table, o.object]) + '\n';
    if (++n % CHUNK === 0) {
      yield chunk;
      chunk = '';
      await yieldToLoop();
    }
  }
  if (chunk) yield chunk;
}

export async function writeSnapshotFile(
  file: string,
  index: number,
  objects: Iterable<{ table: Table; object: AnyObject }>,
): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    for await (const chunk of encodeSnapshot(index, objects)) await fh.write(chunk);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Decodes a snapshot file line by line; throws with a clear message on a bad format. */
export async function readSnapshotFile(file: string): Promise<{ index: number; objects: { table: Table; object: AnyObject }[] }> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let header: SnapshotHeader | undefined;
  const objects: { table: Table; object: AnyObject }[] = [];
  let n = 0;
  for await (const line of rl) {
    if (!line) continue;
    if (!header) {
      header = JSON.parse(line) as SnapshotHeader;
      if (header.format !== SNAPSHOT_FORMAT) throw new Error(`snapshot ${file}: unsupported format ${header.format}`);
      continue;
    }
    const [table, object] = JSON.parse(line) as [Table, AnyObject];
    objects.push({ table, object });
    if (++n % CHUNK === 0) await yieldToLoop();
  }
  if (!header) throw new Error(`snapshot ${file}: empty or missing header`);
  return { index: header.index, objects };
}
