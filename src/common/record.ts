/**
 * Framing of log records on disk: [u32 length][u32 crc32][payload]. A reader can tell a torn tail
 * (short read at the end) from corruption in the middle (a bad CRC followed by more data).
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
  | { readonly ok: false; readonly offset: number; readonly reason: string };

/** Reads every record; a damaged final record is a torn tail, damage before the end is corruption. */
export function scan(buf: Buffer): ScanResult {
  const records: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < HEADER) return { ok: true, records, validBytes: off, tornTail: true };
    const len = buf.readUInt32BE(off);
    const crc = buf.readUInt32BE(off + 4);
    const end = off + HEADER + len;
    if (end > buf.length) return { ok: true, records, validBytes: off, tornTail: true };
    const payload = buf.subarray(off + HEADER, end);
    if (crc32(payload) >>> 0 !== crc) {
      if (end === buf.length) return { ok: true, records, validBytes: off, tornTail: true };
      return { ok: false, offset: off, reason: 'checksum mismatch' };
    }
    records.push(payload);
    off = end;
  }
  return { ok: true, records, validBytes: off, tornTail: false };
}
