import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AesGcmCipher } from './cipher.js';
import type { Entry } from './types.js';
import { RaftWal } from './wal.js';

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
