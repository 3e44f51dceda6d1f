import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { scan } from '../common/record.js';
import { AesGcmCipher } from './cipher.js';
import type { Entry } from './types.js';
import { RaftWal, type OpenWalFile } from './wal.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const cipher = new AesGcmCipher(Buffer.alloc(32, 3));
const entry = (index: number): Entry => ({
  term: 1,
  index,
  type: 'normal',
  data: new TextEncoder().encode(`e${index}`),
});
const hs = { term: 1, vote: 'm1', commit: 0 };

async function walDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'shoal-wal-'));
  dirs.push(d);
  return d;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.startsWith('wal-'));
}

describe('raft WAL', () => {
  it('records a snapshot as a marker in the current segment; replay drops the entries it covers', async () => {
    const dir = await walDir();
    const wal = new RaftWal(dir, cipher);
    await wal.open();
    for (let i = 1; i <= 10; i++) await wal.append(i === 1 ? hs : undefined, [entry(i)]);
    await wal.snapshotTaken({ index: 6, term: 1, voters: ['m1'] }, hs, [7, 8, 9, 10].map(entry));
    await wal.append(undefined, [entry(11)]);
    await wal.close();
    assert.equal((await segments(dir)).length, 1);

    const again = new RaftWal(dir, cipher);
    const st = await again.open();
    await again.close();
    assert.deepEqual(st.snapshot, { index: 6, term: 1, voters: ['m1'] });
    assert.deepEqual(
      st.entries.map((e) => e.index),
      [7, 8, 9, 10, 11],
    );
    assert.deepEqual(st.hardState, hs);
  });

  it('replaces a segment grown past its size at the next snapshot, carrying the state after it', async () => {
    const dir = await walDir();
    const wal = new RaftWal(dir, cipher, 512);
    await wal.open();
    for (let i = 1; i <= 20; i++) await wal.append(i === 1 ? hs : undefined, [entry(i)]);
    const before = await segments(dir);
    await wal.snapshotTaken({ index: 15, term: 1, voters: ['m1'] }, hs, [16, 17, 18, 19, 20].map(entry));
    const afterCut = await segments(dir);
    assert.equal(afterCut.length, 1);
    assert.notDeepEqual(afterCut, before, 'a new segment replaced the old one');
    await wal.append(undefined, [entry(21)]);
    await wal.close();

    const st = await new RaftWal(dir, cipher).open();
    assert.equal(st.snapshot?.index, 15);
    assert.deepEqual(
      st.entries.map((e) => e.index),
      [16, 17, 18, 19, 20, 21],
    );
    assert.deepEqual(st.hardState, hs, 'the hard state written before the cut survives it');
  });

  it('a marker torn by a crash is cut off and the log before it stands', async () => {
    const dir = await walDir();
    const wal = new RaftWal(dir, cipher);
    await wal.open();
    for (let i = 1; i <= 5; i++) await wal.append(i === 1 ? hs : undefined, [entry(i)]);
    await wal.close();
    // Half a record at the end: what a crash in the middle of writing the marker leaves.
    await appendFile(path.join(dir, (await segments(dir))[0]!), Buffer.from([0, 0, 1, 0, 9, 9, 9]));
    const st = await new RaftWal(dir, cipher).open();
    assert.equal(st.snapshot, undefined);
    assert.deepEqual(
      st.entries.map((e) => e.index),
      [1, 2, 3, 4, 5],
    );
  });
});

describe('raft WAL damage', () => {
  const fill = async (dir: string, n: number, segmentBytes?: number): Promise<void> => {
    const wal = new RaftWal(dir, cipher, segmentBytes);
    await wal.open();
    for (let i = 1; i <= n; i++) await wal.append(i === 1 ? hs : undefined, [entry(i)]);
    await wal.close();
  };
  const recordStarts = (buf: Buffer): number[] => {
    const out: number[] = [];
    for (let off = 0; off < buf.length; off += 8 + buf.readUInt32BE(off)) out.push(off);
    return out;
  };

  it('a bad length field in the middle of a segment refuses to start, naming file and offset; nothing is truncated', async () => {
    const dir = await walDir();
    await fill(dir, 6);
    const file = path.join(dir, (await segments(dir))[0]!);
    const buf = await readFile(file);
    const at = recordStarts(buf)[3]!; // the third entry's record
    buf.writeUInt32BE(0x00ffffff, at);
    await writeFile(file, buf);
    await assert.rejects(
      new RaftWal(dir, cipher).open(),
      new RegExp(`${file.replace(/[/.]/g, '\\$&')} is corrupt at byte ${at} .*refusing to start`),
    );
    assert.equal((await readFile(file)).length, buf.length, 'the synced records behind the damage are still there');
  });

  it('an explicit repair cuts at the damage and reports what it dropped', async () => {
    const dir = await walDir();
    await fill(dir, 6);
    const file = path.join(dir, (await segments(dir))[0]!);
    const buf = await readFile(file);
    const at = recordStarts(buf)[3]!;
    buf[at + 12]! ^= 0x10;
    await writeFile(file, buf);
    const dropped: string[] = [];
    const st = await new RaftWal(dir, cipher).open((d) => dropped.push(d));
    assert.deepEqual(
      st.entries.map((e) => e.index),
      [1, 2],
    );
    assert.equal(dropped.length, 1);
    assert.match(dropped[0]!, new RegExp(`cut at byte ${at}`));
  });

  it('a zero-filled tail (power loss) is a torn tail: cut off, the log before it stands', async () => {
    const dir = await walDir();
    await fill(dir, 4);
    const file = path.join(dir, (await segments(dir))[0]!);
    await appendFile(file, Buffer.alloc(8192));
    const wal = new RaftWal(dir, cipher);
    const st = await wal.open();
    assert.deepEqual(
      st.entries.map((e) => e.index),
      [1, 2, 3, 4],
    );
    await wal.append(undefined, [entry(5)]);
    await wal.close();
    assert.deepEqual(
      (await new RaftWal(dir, cipher).open()).entries.map((e) => e.index),
      [1, 2, 3, 4, 5],
    );
  });

  it('a torn record at the end of a segment that is not the last refuses to start', async () => {
    const dir = await walDir();
    const wal = new RaftWal(dir, cipher, 256);
    await wal.open();
    for (let i = 1; i <= 8; i++) await wal.append(i === 1 ? hs : undefined, [entry(i)]);
    // Keep the old segment (a crash between creating the new one and removing the old): copy it back.
    const [first] = await segments(dir);
    const old = await readFile(path.join(dir, first!));
    await wal.snapshotTaken({ index: 6, term: 1, voters: ['m1'] }, hs, [7, 8].map(entry));
    await wal.close();
    await writeFile(path.join(dir, first!), old.subarray(0, old.length - 3));
    await assert.rejects(
      new RaftWal(dir, cipher).open(),
      /is corrupt at byte \d+ \(damaged record at the end of a segment that is not the last\)/,
    );
  });

  it('after a short write fails (ENOSPC), nothing more is appended; a restart cuts the partial record', async () => {
    const dir = await walDir();
    let full = false;
    const openWal: OpenWalFile = async (file, flags) => {
      const fh = await open(file, flags, 0o600);
      return {
        write: async (b, o, l) => {
          if (!full) return fh.write(b, o, l);
          if (l > 10) return fh.write(b, o, 10); // the disk takes a few bytes, then none
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        },
        datasync: () => fh.datasync(),
        close: () => fh.close(),
      };
    };
    const wal = new RaftWal(dir, cipher, undefined, openWal);
    await wal.open();
    for (let i = 1; i <= 3; i++) await wal.append(i === 1 ? hs : undefined, [entry(i)]);
    full = true;
    await assert.rejects(wal.append(undefined, [entry(4)]), /ENOSPC/);
    full = false;
    await assert.rejects(wal.append(undefined, [entry(4)]), /an earlier write failed/);
    await wal.close();
    const st = await new RaftWal(dir, cipher).open();
    assert.deepEqual(
      st.entries.map((e) => e.index),
      [1, 2, 3],
    );
  });

  it('writes entries and term or vote changes at once, synced; a commit index alone goes with the next record', async () => {
    const dir = await walDir();
    const writes: number[] = [];
    let syncs = 0;
    const openWal: OpenWalFile = async (file, flags) => {
      const fh = await open(file, flags, 0o600);
      return {
        write: async (b, o, l) => {
          writes.push(syncs);
          return fh.write(b, o, l);
        },
        datasync: async () => {
          syncs++;
          await fh.datasync();
        },
        close: () => fh.close(),
      };
    };
    const wal = new RaftWal(dir, cipher, undefined, openWal);
    await wal.open(); // the segment header
    assert.equal(await wal.append(hs, [entry(1)]), true);
    assert.equal(await wal.append({ ...hs, commit: 1 }, []), false); // commit only: nothing written
    assert.equal(writes.length, 2);
    assert.equal(await wal.append(undefined, [entry(2)]), true); // carries commit 1
    assert.equal(await wal.append({ term: 2, vote: '', commit: 1 }, []), true); // a new term
    assert.equal(await wal.append({ term: 2, vote: 'm2', commit: 1 }, []), true); // a vote
    assert.equal(await wal.append({ term: 2, vote: 'm2', commit: 2 }, []), false);
    assert.deepEqual(writes, [0, 1, 2, 3, 4], 'every write synced before the next');
    assert.equal(wal.stats.syncs, 4);
    const reread = async (): Promise<{ hs: unknown; entries: number[] }> => {
      const w = new RaftWal(dir, cipher);
      const st = await w.open();
      await w.close();
      return { hs: st.hardState, entries: st.entries.map((e) => e.index) };
    };
    // A crash now loses commit 2 (Raft learns it again), nothing else.
    assert.deepEqual(await reread(), { hs: { term: 2, vote: 'm2', commit: 1 }, entries: [1, 2] });
    // A clean close writes it.
    await wal.close();
    assert.equal(writes.length, 6);
    assert.deepEqual(await reread(), { hs: { term: 2, vote: 'm2', commit: 2 }, entries: [1, 2] });
  });

  it('reopened, term and vote as read back count as written: a commit index alone waits', async () => {
    const dir = await walDir();
    const wal = new RaftWal(dir, cipher);
    await wal.open();
    await wal.append({ term: 3, vote: 'm1', commit: 0 }, [entry(1)]);
    await wal.close();
    const again = new RaftWal(dir, cipher);
    await again.open();
    assert.equal(again.mustSync({ term: 3, vote: 'm1', commit: 1 }, []), false);
    assert.equal(again.mustSync({ term: 3, vote: 'm3', commit: 1 }, []), true);
    assert.equal(again.mustSync({ term: 4, vote: 'm1', commit: 1 }, []), true);
    await again.close();
  });
});

describe('raft WAL segment file (zeros written ahead)', () => {
  const big = (index: number): Entry => ({ term: 1, index, type: 'normal', data: new Uint8Array(40_000).fill(index) });

  it('keeps zeros ahead of the records while open and trims them at close; records cross the zeroed chunks', async () => {
    const dir = await walDir();
    const wal = new RaftWal(dir, cipher);
    await wal.open();
    // ~4 MiB of base64'd entries: several rounds of zeros ahead, some records straddling a boundary.
    for (let i = 1; i <= 80; i++) await wal.append(i === 1 ? hs : undefined, [big(i)]);
    const [seg] = await segments(dir);
    const file = path.join(dir, seg!);
    const open1 = await readFile(file);
    const r = scan(open1);
    assert.ok(r.ok);
    const used = r.validBytes;
    assert.ok(open1.length > used, 'zeros are written ahead of the records');
    await wal.close();
    assert.equal((await readFile(file)).length, used, 'close trims the file to its records');

    const again = new RaftWal(dir, cipher);
    const st = await again.open();
    await again.close();
    assert.deepEqual(
      st.entries.map((e) => e.index),
      Array.from({ length: 80 }, (_, i) => i + 1),
    );
    assert.deepEqual(st.entries[79]!.data, big(80).data);
  });

  it('after a crash (no close) the zero tail is cut at start, every record stands, and appending goes on', async () => {
    const dir = await walDir();
    const crashed = new RaftWal(dir, cipher);
    await crashed.open();
    for (let i = 1; i <= 30; i++) await crashed.append(i === 1 ? hs : undefined, [entry(i)]);
    // The process dies here: the file still has its zeros ahead (the handle is simply dropped).
    const [seg] = await segments(dir);
    assert.ok(countZeroTail(await readFile(path.join(dir, seg!))) > 0);

    const second = new RaftWal(dir, cipher);
    assert.deepEqual(
      (await second.open()).entries.map((e) => e.index),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    for (let i = 31; i <= 40; i++) await second.append(undefined, [entry(i)]);
    // Crash again, then a clean restart.
    const third = new RaftWal(dir, cipher);
    const st = await third.open();
    await third.close();
    assert.deepEqual(
      st.entries.map((e) => e.index),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    await crashed.close().catch(() => undefined);
    await second.close().catch(() => undefined);
  });

  it('a segment replaced at a snapshot is trimmed before the next one starts (only the last may end in zeros)', async () => {
    const dir = await walDir();
    const wal = new RaftWal(dir, cipher, 512);
    await wal.open();
    for (let i = 1; i <= 20; i++) await wal.append(i === 1 ? hs : undefined, [entry(i)]);
    const [first] = await segments(dir);
    const before = await open(path.join(dir, first!), 'r');
    await wal.snapshotTaken({ index: 15, term: 1, voters: ['m1'] }, hs, [16, 17, 18, 19, 20].map(entry));
    // The old segment's file, still open here although removed, ends with its last record.
    const rest = Buffer.alloc((await before.stat()).size);
    await before.read(rest, 0, rest.length, 0);
    await before.close();
    const r = scan(rest);
    assert.ok(r.ok && !r.tornTail, 'no zero tail');
    await wal.close();
  });
});

/** How many zero bytes end the buffer. */
function countZeroTail(buf: Buffer): number {
  let n = 0;
  while (n < buf.length && buf[buf.length - 1 - n] === 0) n++;
  return n;
}
