import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../common/logging.js';
import { SeededRandom } from '../common/random.js';
import { AesGcmCipher } from './cipher.js';
import { RaftNode, type StateMachine, type Transport } from './node.js';
import { NotLeaderError, type Message } from './types.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

class ListMachine implements StateMachine {
  items: string[] = [];
  index = 0;
  apply(index: number, data: Uint8Array): void {
    this.index = index;
    this.items.push(new TextDecoder().decode(data));
  }
  snapshot(): AsyncIterable<Uint8Array> {
    const data = new TextEncoder().encode(JSON.stringify({ index: this.index, items: this.items }));
    return (async function* () {
      yield data;
    })();
  }
  async restore(index: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    let text = '';
    for await (const c of chunks) text += new TextDecoder().decode(c);
    this.items = (JSON.parse(text) as { items: string[] }).items;
    this.index = index;
  }
}

async function member(dir: string, interval = 1000, key = cipher): Promise<{ node: RaftNode; sm: ListMachine }> {
  const sm = new ListMachine();
  const node = new RaftNode({
    id: 'm1',
    voters: ['m1'],
    dir,
    tickMs: 10,
    electionTick: () => 10,
    heartbeatTick: () => 1,
    snapshotInterval: () => interval,
    sm,
    cipher: key,
    random: new SeededRandom(1),
    logger: silentLogger,
  });
  await node.start();
  await node.waitForLeadership(5000);
  return { node, sm };
}

const cipher = new AesGcmCipher(Buffer.alloc(32, 7));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('raft node on disk (one member)', () => {
  it('commits proposals, sharing fsyncs, and replays them after a restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-raft-'));
    dirs.push(dir);
    const a = await member(dir);
    await Promise.all(Array.from({ length: 100 }, (_, i) => a.node.propose(text(`v${i}`))));
    assert.equal(a.sm.items.length, 100);
    assert.ok(a.node.stats.syncs < 100, `group commit: ${a.node.stats.syncs} syncs for 100 entries`);
    await a.node.stop();
    const b = await member(dir);
    assert.deepEqual(b.sm.items, a.sm.items);
    await b.node.readBarrier(); // a one-member group confirms its own leadership at once
    await b.node.stop();
  });

  it('snapshots, cuts the WAL, and restores from snapshot plus WAL', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-raft-'));
    dirs.push(dir);
    const a = await member(dir, 25);
    for (let i = 0; i < 60; i++) await a.node.propose(text(`v${i}`));
    // The second snapshot is written in the background; once it is, the WAL is cut there and the
    // first one goes.
    const snaps = async (): Promise<string[]> => (await readdir(dir)).filter((f) => f.endsWith('.snap')).sort();
    for (let i = 0; i < 200 && (await snaps()).length !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await snaps()).length, 1, 'the older snapshot is removed');
    await a.node.stop();
    const b = await member(dir, 25);
    assert.equal(b.sm.items.length, 60);
    assert.equal(b.sm.items.at(-1), 'v59');
    await b.node.stop();
  });

  it('takes snapshots under steady load, when the processing loop never runs dry', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-raft-'));
    dirs.push(dir);
    const a = await member(dir, 50);
    let proposed = 0;
    let snapshotWhileWriting = false;
    // Eight writers, each with one proposal in flight: there is always input while a Ready is written.
    const writer = async (w: number): Promise<void> => {
      while (!snapshotWhileWriting && proposed < 2000) {
        await a.node.propose(text(`w${w}-${proposed++}`));
        if (a.node.debugState().first > 1) snapshotWhileWriting = true;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    await a.node.stop();
    assert.ok(snapshotWhileWriting, `no snapshot (log compaction) during ${proposed} proposals`);
  });

  it('seals the WAL and snapshots with the data-encryption key; another key cannot start', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-raft-'));
    dirs.push(dir);
    const a = await member(dir, 10);
    for (let i = 0; i < 25; i++) await a.node.propose(text(`top-secret-${i}`));
    await a.node.stop();
    const files = [
      ...(await readdir(dir)).map((f) => path.join(dir, f)),
      ...(await readdir(path.join(dir, 'wal'))).map((f) => path.join(dir, 'wal', f)),
    ];
    assert.ok(
      files.some((f) => f.endsWith('.snap')),
      'a snapshot was written',
    );
    for (const f of files) {
      if (f.endsWith('wal')) continue;
      assert.ok(!(await readFile(f)).includes('top-secret'), `${f} holds plaintext`);
    }
    await assert.rejects(
      member(dir, 10, new AesGcmCipher(Buffer.alloc(32, 8))),
      /fails authentication \(wrong key or tampered\); refusing/,
    );
    const b = await member(dir, 10);
    assert.equal(b.sm.items.at(-1), 'top-secret-24');
    await b.node.stop();
  });

  it('truncates a torn WAL tail; refuses a corrupt middle', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-raft-'));
    dirs.push(dir);
    const a = await member(dir);
    for (let i = 0; i < 5; i++) await a.node.propose(text(`v${i}`));
    await a.node.stop();
    const walDir = path.join(dir, 'wal');
    const [seg] = await readdir(walDir);
    await appendFile(path.join(walDir, seg!), Buffer.from([0, 0, 0, 50, 1, 2]));
    const b = await member(dir);
    assert.equal(b.sm.items.length, 5);
    await b.node.stop();
    const buf = await readFile(path.join(walDir, seg!));
    buf[30] = buf[30]! ^ 0xff;
    await writeFile(path.join(walDir, seg!), buf);
    await assert.rejects(member(dir), /corrupt.*refusing to start/);
  });

  it('brings a follower that missed compacted entries up to date with InstallSnapshot, durably', async () => {
    // Three members on disk, linked by an in-memory network that can cut one of them off.
    const ids = ['m1', 'm2', 'm3'];
    const handlers = new Map<string, (m: Message) => void>();
    const isolated = new Set<string>();
    const net = (id: string): Transport => ({
      send: (msgs) => {
        for (const m of msgs) {
          if (isolated.has(m.to) || isolated.has(m.from)) continue;
          setImmediate(() => handlers.get(m.to)?.(m));
        }
      },
      onMessage: (h) => void handlers.set(id, h),
    });
    const base = await mkdtemp(path.join(tmpdir(), 'shoal-raft-'));
    dirs.push(base);
    const start = async (id: string, seed: number): Promise<{ node: RaftNode; sm: ListMachine }> => {
      const sm = new ListMachine();
      const node = new RaftNode({
        id,
        voters: ids,
        dir: path.join(base, id),
        tickMs: 5,
        electionTick: () => 40, // 200 ms: no spurious elections on a loaded machine
        heartbeatTick: () => 1,
        snapshotInterval: () => 20,
        keepEntries: () => 0,
        snapshotPartBytes: 64, // many parts, to exercise the streamed transfer
        sm,
        cipher,
        random: new SeededRandom(seed),
        logger: silentLogger,
        transport: net(id),
      });
      await node.start();
      return { node, sm };
    };
    const members = new Map<string, { node: RaftNode; sm: ListMachine }>();
    for (const [i, id] of ids.entries()) members.set(id, await start(id, i + 1));
    const until = async (what: string, fn: () => boolean): Promise<void> => {
      const end = Date.now() + 10_000;
      while (!fn()) {
        if (Date.now() > end) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const leader = (): { node: RaftNode; sm: ListMachine } | undefined =>
      [...members.values()].find((m) => m.node.isLeader);
    try {
      await until('a leader', () => leader() !== undefined);
      const lead = leader()!;
      const laggard = ids.find((id) => members.get(id)!.node !== lead.node)!;
      isolated.add(laggard);
      for (let i = 0; i < 50; i++) await lead.node.propose(text(`v${i}`));
      assert.ok(
        (await readdir(path.join(base, [...members].find(([, m]) => m === lead)![0]))).some((f) => f.endsWith('.snap')),
        'the leader took a snapshot',
      );
      isolated.delete(laggard);
      const behind = members.get(laggard)!;
      await until('the laggard caught up', () => behind.sm.items.length === 50).catch((e: unknown) => {
        throw new Error(
          `${String(e)}; laggard has ${behind.sm.items.length} items; ${JSON.stringify(behind.node.debugState())} leader ${JSON.stringify(lead.node.debugState())}`,
        );
      });
      assert.deepEqual(behind.sm.items, lead.sm.items);
      assert.ok(
        (await readdir(path.join(base, laggard))).some((f) => f.endsWith('.snap')),
        'the laggard stored the snapshot it was sent',
      );
      // It restarts from the installed snapshot plus its WAL.
      await behind.node.stop();
      handlers.delete(laggard);
      const again = await start(laggard, 9);
      members.set(laggard, again);
      assert.equal(again.sm.items.length, 50);
      await lead.node.propose(text('after'));
      await until('the restarted member applies new entries', () => again.sm.items.at(-1) === 'after');
      // Linearizable reads: confirmed by a majority on the leader, refused elsewhere and on a cut-off leader.
      await lead.node.readBarrier();
      await assert.rejects(again.node.readBarrier(), NotLeaderError);
      const leaderId = [...members].find(([, m]) => m === lead)![0];
      // The leader's view of its peers: everyone reachable, then the laggard cut off goes unreachable.
      assert.ok(
        lead.node.peers().every((p) => p.reachable),
        JSON.stringify(lead.node.peers()),
      );
      isolated.add(laggard);
      await until(
        'the cut-off member is unreachable',
        () => lead.node.peers().find((p) => p.id === laggard)?.reachable === false,
      );
      assert.deepEqual(again.node.peers(), [], 'a follower has no view of its peers');
      isolated.delete(laggard);
      isolated.add(leaderId);
      await assert.rejects(lead.node.readBarrier(1000), NotLeaderError);
      isolated.delete(leaderId);
    } finally {
      for (const m of members.values()) await m.node.stop();
    }
  });
});
