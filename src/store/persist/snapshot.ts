/**
 * The store's state as snapshot chunks: newline-delimited JSON, a few hundred objects per chunk,
 * yielding to the event loop between chunks, so a 100 MB state is never one JSON.stringify and
 * never blocks the loop for long. Raft seals, frames and files the chunks (src/raft/snapshot-file.ts).
 */
import type { AnyObject, Table } from '../types.js';

export const SNAPSHOT_FORMAT = 1;
const CHUNK = 200;

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Encodes objects into chunks of lines; the first line names the format. */
export async function* encodeSnapshot(
  objects: Iterable<{ table: Table; object: AnyObject }>,
): AsyncGenerator<Uint8Array> {
  let chunk = JSON.stringify({ format: SNAPSHOT_FORMAT }) + '\n';
  let n = 0;
  for (const o of objects) {
    chunk += JSON.stringify([o.table, o.object]) + '\n';
    if (++n % CHUNK === 0) {
      yield enc.encode(chunk);
      chunk = '';
      await yieldToLoop();
    }
  }
  if (chunk) yield enc.encode(chunk);
}

/**
 * Decodes chunks made by encodeSnapshot (each ends at a line boundary) into batches of objects, one
 * per chunk, yielding to the event loop in between; throws on a bad format.
 */
export async function* decodeSnapshot(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<{ table: Table; object: AnyObject }[]> {
  let sawHeader = false;
  for await (const c of chunks) {
    const batch: { table: Table; object: AnyObject }[] = [];
    for (const line of dec.decode(c).split('\n')) {
      if (!line) continue;
      const v = JSON.parse(line) as [Table, AnyObject] | { format: number };
      if (!Array.isArray(v)) {
        if (v.format !== SNAPSHOT_FORMAT) throw new Error(`store snapshot: unsupported format ${v.format}`);
        sawHeader = true;
        continue;
      }
      batch.push({ table: v[0], object: v[1] });
    }
    if (!sawHeader) throw new Error('store snapshot: missing header');
    yield batch;
    await yieldToLoop();
  }
  if (!sawHeader) throw new Error('store snapshot: missing header');
}
