/**
 * Framing of log records on disk: [u32 length][u32 crc32][payload]. A writer never writes an empty
 * payload, so a zero length is damage (a zero-filled tail, what power loss can leave, would
 * otherwise read as a valid empty record: the crc32 of nothing is 0).
 */
import { crc32 } from 'node:zlib';

export const HEADER = 8;

export function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload) >>> 0, 4);
  payload.copy(out, HEADER);
  return out;
}

export type ScanResult =
  | { readonly ok: true; readonly records: Buffer[]; readonly validBytes: number; readonly tornTail: boolean }
  | { readonly ok: false; readonly offset: number; readonly reason: string; readonly records: Buffer[] };

/** The reason the record at `off` is damaged, or undefined if it is intact. */
function damage(buf: Buffer, off: number): string | undefined {
  if (buf.length - off < HEADER) return 'short header';
  const len = buf.readUInt32BE(off);
  if (len === 0) return 'zero length';
  if (off + HEADER + len > buf.length) return `length ${len} runs past the end`;
  if (crc32(buf.subarray(off + HEADER, off + HEADER + len)) >>> 0 !== buf.readUInt32BE(off + 4))
    return 'checksum mismatch';
  return undefined;
}

/** Whether an intact record starts anywhere after `from` (then the damage before it is not a torn tail). */
function intactRecordAfter(buf: Buffer, from: number): boolean {
  for (let p = from; p + HEADER < buf.length; p++) {
    const len = buf.readUInt32BE(p);
    if (len === 0 || p + HEADER + len > buf.length) continue;
    if (damage(buf, p) === undefined) return true;
  }
  return false;
}

/**
 * Reads every record. Damage counts as a torn tail (the last write, cut short by a crash) only when
 * nothing intact follows it; otherwise it is corruption at `offset`, and the records before it are
 * returned for a repair that chooses to keep them.
 */
export function scan(buf: Buffer): ScanResult {
  const records: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    const why = damage(buf, off);
    if (why !== undefined) {
      if (intactRecordAfter(buf, off + 1)) return { ok: false, offset: off, reason: why, records };
      return { ok: true, records, validBytes: off, tornTail: true };
    }
    const len = buf.readUInt32BE(off);
    records.push(buf.subarray(off + HEADER, off + HEADER + len));
    off += HEADER + len;
  }
  return { ok: true, records, validBytes: off, tornTail: false };
}
