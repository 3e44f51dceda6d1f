/**
 * Replacing a member's data-encryption key (autolock turned on): what is written after the switch
 * is sealed with the new key only, the old data is rewritten under it (a snapshot and a fresh WAL
 * segment), and a crash anywhere in between is recovered by a restart given both keys.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../common/logging.js';
import { SeededRandom } from '../common/random.js';
import { scan } from '../common/record.js';
import { AesGcmCipher, type DataCipher, type RecordKind } from './cipher.js';
import { RaftNode, type StateMachine } from './node.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A list of strings; its snapshot can be held back and then made to fail (a crash mid-rotation). */
class ListMachine implements StateMachine {
  items: string[] = [];
  failSnapshot: Promise<void> | undefined;

  apply(_index: number, data: Uint8Array): void {
    this.items.push(new TextDecoder().decode(data));
  }

  snapshot(): AsyncIterable<Uint8Array> {
    const data = new TextEncoder().encode(JSON.stringify(this.items));
    const fail = this.failSnapshot;
    return (async function* () {
      if (fail) {
        await fail;
        throw new Error('injected crash while writing the snapshot');
      }
      yield data;
    })();
  }

  async restore(_index: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    let text = '';
    for await (const c of chunks) text += new TextDecoder().decode(c);
    this.items = JSON.parse(text) as string[];
  }
}

async function member(
  dir: string,
  cipher: DataCipher,
  retiredCiphers: DataCipher[] = [],
): Promise<{ node: RaftNode; sm: ListMachine }> {
  const sm = new ListMachine();
  const node = new RaftNode({
    id: 'm1',
    voters: ['m1'],
    dir,
    tickMs: 10,
    electionTick: () => 10,
    heartbeatTick: () => 1,
    snapshotInterval: () => 20,
    sm,
    cipher,
    retiredCiphers,
    random: new SeededRandom(1),
    logger: silentLogger,
  });
  await node.start();
  await node.waitForLeadership(5000);
  return { node, sm };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const oldKey = new AesGcmCipher(Buffer.alloc(32, 1));
const newKey = new AesGcmCipher(Buffer.alloc(32, 2));

/** Every sealed record of every WAL segment and snapshot file, with the kinds it could be. */
async function sealedRecords(dir: string): Promise<{ file: string; record: Buffer; kinds: RecordKind[] }[]> {
  const out: { file: string; record: Buffer; kinds: RecordKind[] }[] = [];
  const files = [
    ...(await readdir(dir)).filter((f) => f.endsWith('.snap')).map((f) => path.join(dir, f)),
    ...(await readdir(path.join(dir, 'wal'))).map((f) => path.join(dir, 'wal', f)),
  ];
  for (const file of files) {
    const r = scan(await readFile(file));
    assert.ok(r.ok, `${file} reads back`);
    const kinds: RecordKind[] = file.endsWith('.snap') ? ['snapshot', 'snapshot-end'] : ['wal'];
    // The first record of each file is its plaintext header.
    for (const record of r.records.slice(1)) out.push({ file, record, kinds });
  }
  return out;
}

/** How many of the records on disk a key opens. */
async function openedBy(dir: string, key: DataCipher): Promise<number> {
  let n = 0;
  for (const { record, kinds } of await sealedRecords(dir)) {
    for (const kind of kinds) {
      try {
        key.open(kind, record);
        n++;
        break;
      } catch {
        // not this kind, or not this key
      }
    }
  }
  return n;
}

describe('replacing the data-encryption key', () => {
  it('data written after the switch is sealed with the new key; the old key opens nothing left on disk', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-rekey-'));
    dirs.push(dir);
    const a = await member(dir, oldKey);
    for (let i = 0; i < 30; i++) await a.node.propose(text(`before-${i}`));
    assert.ok((await openedBy(dir, oldKey)) > 0);
    await a.node.rotateDataKey(newKey);
    for (let i = 0; i < 5; i++) await a.node.propose(text(`after-${i}`));
    await a.node.stop();

    const records = await sealedRecords(dir);
    assert.ok(
      records.some((r) => r.file.endsWith('.snap')),
      'a snapshot under the new key',
    );
    assert.equal(await openedBy(dir, oldKey), 0, 'the old key opens no record of any WAL segment or snapshot');
    assert.equal(await openedBy(dir, newKey), records.length, 'the new key opens every one');
    await assert.rejects(member(dir, oldKey), /fails authentication/);

    // A restart given only the new key reads everything, written before and after the switch.
    const b = await member(dir, newKey);
    assert.deepEqual(b.sm.items, [
      ...Array.from({ length: 30 }, (_, i) => `before-${i}`),
      ...Array.from({ length: 5 }, (_, i) => `after-${i}`),
    ]);
    await b.node.stop();
  });

  it('a crash after the switch, before the WAL is cut, is recovered by a restart given both keys', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-rekey-'));
    dirs.push(dir);
    const a = await member(dir, oldKey);
    for (let i = 0; i < 10; i++) await a.node.propose(text(`before-${i}`));
    let crash!: () => void;
    a.sm.failSnapshot = new Promise((r) => (crash = r));
    const rotating = a.node.rotateDataKey(newKey);
    rotating.catch(() => undefined);
    // Written under the new key into the segment the old key began.
    for (let i = 0; i < 5; i++) await a.node.propose(text(`after-${i}`));
    crash();
    await assert.rejects(rotating, /injected crash/);
    assert.ok(a.node.failure, 'the member stopped for good, as after a crash');
    await a.node.stop();
    assert.ok((await openedBy(dir, oldKey)) > 0 && (await openedBy(dir, newKey)) > 0, 'a segment sealed with both');

    // Neither key alone reads it back: the pending key and the current one are both kept until the end.
    await assert.rejects(member(dir, newKey), /fails authentication/);
    const b = await member(dir, newKey, [oldKey]);
    const all = [
      ...Array.from({ length: 10 }, (_, i) => `before-${i}`),
      ...Array.from({ length: 5 }, (_, i) => `after-${i}`),
    ];
    assert.deepEqual(b.sm.items, all);
    await b.node.reseal();
    await b.node.propose(text('later'));
    await b.node.stop();
    assert.equal(await openedBy(dir, oldKey), 0, 'after the reseal the old key opens nothing');

    const c = await member(dir, newKey);
    assert.deepEqual(c.sm.items, [...all, 'later']);
    await c.node.stop();
  });

  it('a restart after a finished rotation, still given the retired key, reseals again harmlessly', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-rekey-'));
    dirs.push(dir);
    const a = await member(dir, oldKey);
    for (let i = 0; i < 25; i++) await a.node.propose(text(`v${i}`));
    // A crash after the WAL cut but before the key file promotes the pending key: the restart is
    // given both keys and reseals once more.
    await a.node.rotateDataKey(newKey);
    await a.node.stop();
    // A retired key given at restart but no longer needed does no harm, and reseal is idempotent.
    const b = await member(dir, newKey, [oldKey]);
    assert.equal(b.sm.items.length, 25);
    await b.node.reseal();
    await b.node.stop();
    assert.equal(await openedBy(dir, oldKey), 0);
  });
});
