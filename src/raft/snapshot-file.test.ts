import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AesGcmCipher } from './cipher.js';
import { IncomingSnapshot, payloadChunks, readSnapshot, snapshotParts, writeSnapshot } from './snapshot-file.js';
import type { SnapshotMeta } from './types.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const cipher = new AesGcmCipher(Buffer.alloc(32, 4));
const meta: SnapshotMeta = { index: 9, term: 2, voters: ['m1'], learners: [] };
const chunks = ['one', 'two', 'three'].map((s) => new TextEncoder().encode(s));

async function* from(list: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* list;
}

async function readAll(file: string): Promise<string[]> {
  const out: string[] = [];
  for await (const c of (await readSnapshot(file, cipher)).chunks()) out.push(Buffer.from(c).toString());
  return out;
}

/** Offsets where each framed record starts. */
function recordStarts(buf: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off < buf.length; off += 8 + buf.readUInt32BE(off)) out.push(off);
  return out;
}

describe('raft snapshot files', () => {
  it('round-trip through the end marker', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-snap-'));
    dirs.push(dir);
    const file = path.join(dir, 's.snap');
    await writeSnapshot(file, meta, from(chunks), cipher);
    assert.deepEqual(await readAll(file), ['one', 'two', 'three']);
  });

  it('a file cut at a record boundary is refused, not restored as a smaller state', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-snap-'));
    dirs.push(dir);
    const file = path.join(dir, 's.snap');
    await writeSnapshot(file, meta, from(chunks), cipher);
    const buf = await readFile(file);
    const starts = recordStarts(buf);
    for (const cut of [starts.at(-1)!, starts.at(-2)!]) {
      await writeFile(file, buf.subarray(0, cut)); // without the marker; without the last chunk too
      await assert.rejects(readAll(file), /refusing to use it/);
    }
  });

  it('a snapshot received in parts gets its own end marker', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-snap-'));
    dirs.push(dir);
    const src = path.join(dir, 'src.snap');
    await writeSnapshot(src, meta, from(chunks), cipher);
    const inc = await IncomingSnapshot.begin('m2', meta, path.join(dir, 'incoming-1.tmp'), cipher);
    let part = 0;
    for await (const p of snapshotParts(await readSnapshot(src, cipher), 4)) assert.ok(inc.add(part++, p));
    await inc.finish();
    assert.deepEqual(await readAll(inc.file), ['one', 'two', 'three']);
    // payloadChunks still reads a whole framed payload.
    const got: string[] = [];
    for await (const c of payloadChunks(new Uint8Array())) got.push(Buffer.from(c).toString());
    assert.deepEqual(got, []);
  });
});
