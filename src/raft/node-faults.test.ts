/**
 * A RaftNode whose disk or state machine fails stops for good: nothing is acknowledged that is not
 * on disk, nothing applied is skipped, the owner hears of it once, and stop() still ends.
 */
import assert from 'node:assert/strict';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../common/logging.js';
import { SeededRandom } from '../common/random.js';
import { AesGcmCipher } from './cipher.js';
import { RaftNode, type Transport } from './node.js';
import { TextLog, text, untext } from './testing.js';
import { NotLeaderError, ProposalOutcomeUnknownError, RaftFatalError, type Message } from './types.js';
import type { OpenWalFile, WalFile } from './wal.js';
import { nodeFs, type RaftFile, type RaftFs } from './fs.js';
import { readSnapshot, snapshotParts, writeSnapshot } from './snapshot-file.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const cipher = new AesGcmCipher(Buffer.alloc(32, 5));

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'shoal-raft-faults-'));
  dirs.push(d);
  return d;
}

/** The test state machine, failing on one value when asked. */
class Items extends TextLog {
  failOn: string | undefined;
  override apply(index: number, data: Uint8Array): void {
    const v = untext(data);
    if (v === this.failOn) throw new Error(`cannot apply ${v}`);
    super.apply(index, data);
  }
}

/** The real files, with datasync failing or hanging while `mode` says so. */
class FaultyDisk {
  mode: 'ok' | 'eio' | 'hang' | 'slow' = 'ok';
  readonly open: OpenWalFile = async (file, flags) => {
    const fh = await open(file, flags, 0o600);
    const f: WalFile = {
      write: (b, o, l) => fh.write(b, o, l),
      datasync: async () => {
        if (this.mode === 'eio') throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        if (this.mode === 'hang') return new Promise<void>(() => undefined);
        if (this.mode === 'slow') await new Promise((r) => setTimeout(r, 200));
        await fh.datasync();
      },
      close: () => fh.close(),
    };
    return f;
  };
}

interface Opts {
  id?: string;
  voters?: string[];
  disk?: FaultyDisk;
  sm?: Items;
  transport?: Transport;
  seed?: number;
  fs?: RaftFs;
  snapshotInterval?: number;
  onFatal?: (e: RaftFatalError) => void;
}

function node(dir: string, o: Opts = {}): RaftNode {
  return new RaftNode({
    id: o.id ?? 'm1',
    voters: o.voters ?? ['m1'],
    dir,
    tickMs: 5,
    electionTick: () => 30, // 150 ms: no spurious elections on a loaded machine
    heartbeatTick: () => 1,
    snapshotInterval: () => o.snapshotInterval ?? 1000,
    sm: o.sm ?? new Items(),
    cipher,
    random: new SeededRandom(o.seed ?? 1),
    logger: silentLogger,
    stopTimeoutMs: 300,
    ...(o.transport ? { transport: o.transport } : {}),
    ...(o.disk ? { openWalFile: o.disk.open } : {}),
    ...(o.fs ? { fs: o.fs } : {}),
    ...(o.onFatal ? { onFatal: o.onFatal } : {}),
  });
}

const within = async <T>(ms: number, p: Promise<T>, what: string): Promise<T> => {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, rej) => (t = setTimeout(() => rej(new Error(`${what} took longer than ${ms} ms`)), ms)),
  );
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(t);
  }
};

describe('raft node: storage and apply faults stop it for good', () => {
  it('a failed fdatasync rejects the proposal, calls onFatal once, refuses later work; a restart recovers', async () => {
    const dir = await tempDir();
    const disk = new FaultyDisk();
    const sm = new Items();
    const fatal: RaftFatalError[] = [];
    const n = node(dir, { disk, sm, onFatal: (e) => fatal.push(e) });
    await n.start();
    await n.waitForLeadership(5000);
    await n.propose(text('a'));
    disk.mode = 'eio';
    await within(2000, assert.rejects(n.propose(text('b')), RaftFatalError), 'the failed proposal');
    disk.mode = 'ok';
    // Before the fix the next batch's advance counted b as persisted, and b was applied and acked.
    await assert.rejects(n.propose(text('c')), RaftFatalError);
    await assert.rejects(n.readBarrier(), RaftFatalError);
    assert.equal(fatal.length, 1);
    assert.match(fatal[0]!.message, /EIO/);
    assert.deepEqual(sm.items, ['a']);
    assert.equal(n.isLeader, false);
    await within(1000, n.stop(), 'stop after a fault');

    // The supervisor restarts it from disk: b's record may or may not be there, nothing else is.
    const sm2 = new Items();
    const again = node(dir, { sm: sm2 });
    await again.start();
    await again.waitForLeadership(5000);
    await again.propose(text('d'));
    assert.ok(['a,d', 'a,b,d'].includes(sm2.items.join(',')), sm2.items.join(','));
    await again.stop();
  });

  it('a throwing apply stops the node with applied before that entry; waiters get the error', async () => {
    const dir = await tempDir();
    const sm = new Items();
    sm.failOn = 'bad';
    const fatal: RaftFatalError[] = [];
    const n = node(dir, { sm, onFatal: (e) => fatal.push(e) });
    await n.start();
    await n.waitForLeadership(5000);
    const before = await n.propose(text('ok'));
    const results = await Promise.allSettled([n.propose(text('bad')), n.propose(text('later'))]);
    assert.ok(
      results.every((r) => r.status === 'rejected' && r.reason instanceof RaftFatalError),
      JSON.stringify(results.map((r) => r.status)),
    );
    assert.equal(fatal.length, 1);
    assert.equal(n.progressIndex.applied, before, 'applied stops before the entry that failed');
    assert.deepEqual(sm.items, ['ok'], 'nothing after the failed entry is applied');
    await within(1000, n.stop(), 'stop after a fault');
  });

  it('a failed snapshot write stops the processing loop too: nothing more is written or applied', async () => {
    const dir = await tempDir();
    const sm = new Items();
    let walWrites = 0;
    let fatalAt: { items: number; walWrites: number } | undefined;
    const fs: RaftFs = {
      ...nodeFs,
      open: async (file, flags) => {
        // The failure comes back while later Readies are being written (their datasync is slow).
        if (file.endsWith('.snap.tmp')) await new Promise((r) => setTimeout(r, 20));
        if (file.endsWith('.snap.tmp'))
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        const f = await nodeFs.open(file, flags);
        if (!file.includes('wal-')) return f;
        const counted: RaftFile = {
          write: (b, o, l) => (walWrites++, f.write(b, o, l)),
          read: (b, o, l, p) => f.read(b, o, l, p),
          datasync: async () => {
            await new Promise((r) => setTimeout(r, 2));
            await f.datasync();
          },
          sync: () => f.sync(),
          close: () => f.close(),
        };
        return counted;
      },
    };
    const n = node(dir, {
      sm,
      fs,
      snapshotInterval: 20,
      onFatal: () => (fatalAt = { items: sm.items.length, walWrites }),
    });
    await n.start();
    await n.waitForLeadership(5000);
    // Eight writers keep the loop busy, so the snapshot fails while a Ready is under way.
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !fatalAt && i < 200; i++) await n.propose(text(`w${w}-${i}`)).catch(() => undefined);
    };
    await within(5000, Promise.all(Array.from({ length: 8 }, (_, w) => writer(w))), 'the writers');
    await new Promise((r) => setTimeout(r, 100));
    await n.stop();
    assert.ok(fatalAt, 'the failed snapshot write stops the node');
    assert.equal(sm.items.length, fatalAt.items, 'nothing is applied after the stop');
    assert.equal(walWrites, fatalAt.walWrites, 'nothing is written to the WAL after the stop');
  });

  it('stop() ends within its bound while an fdatasync hangs', async () => {
    const dir = await tempDir();
    const disk = new FaultyDisk();
    const n = node(dir, { disk });
    await n.start();
    await n.waitForLeadership(5000);
    disk.mode = 'hang';
    const p = assert.rejects(n.propose(text('x')), ProposalOutcomeUnknownError);
    await new Promise((r) => setTimeout(r, 20));
    await within(2000, n.stop(), 'stop with a hung disk');
    await p;
  });

  it('a leader whose disk fails stops leading: the others elect a leader and it serves no stale read', async () => {
    const ids = ['m1', 'm2', 'm3'];
    const handlers = new Map<string, (m: Message) => void>();
    const net = (id: string): Transport => ({
      send: (msgs) => {
        for (const m of msgs) setImmediate(() => handlers.get(m.to)?.(m));
      },
      onMessage: (h) => void handlers.set(id, h),
    });
    const base = await tempDir();
    const members = ids.map((id, i) => {
      const disk = new FaultyDisk();
      const sm = new Items();
      const fatal: RaftFatalError[] = [];
      const n = node(path.join(base, id), {
        id,
        voters: ids,
        disk,
        sm,
        transport: net(id),
        seed: i + 1,
        onFatal: (e) => fatal.push(e),
      });
      return { id, n, disk, sm, fatal };
    });
    for (const m of members) await m.n.start();
    const until = async (what: string, fn: () => boolean): Promise<void> => {
      const end = Date.now() + 10_000;
      while (!fn()) {
        if (Date.now() > end) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      await until('a leader', () => members.some((m) => m.n.isLeader));
      const old = members.find((m) => m.n.isLeader)!;
      await old.n.propose(text('x=1'));
      old.disk.mode = 'eio';
      await assert.rejects(old.n.propose(text('x=2')));
      assert.equal(old.fatal.length, 1);
      // Before the fix the failed leader kept leading on heartbeats alone and served x=1 here.
      await assert.rejects(old.n.readBarrier(500));
      await until('a new leader among the others', () => members.some((m) => m !== old && m.n.isLeader));
      const next = members.find((m) => m !== old && m.n.isLeader)!;
      await next.n.propose(text('x=3'));
      await next.n.readBarrier();
      assert.equal(next.sm.items.at(-1), 'x=3');
      assert.ok(!old.sm.items.includes('x=3'));
    } finally {
      for (const m of members) await m.n.stop();
    }
  });

  it('a resend of the same snapshot arriving as the first copy is installed does not damage it (staging file per transfer)', async () => {
    const base = await tempDir();
    let deliver: ((m: Message) => void) | undefined;
    const transport: Transport = { send: () => undefined, onMessage: (h) => void (deliver = h) };
    const sm = new Items();
    const fatal: RaftFatalError[] = [];
    const disk = new FaultyDisk();
    const n = node(path.join(base, 'm2'), {
      id: 'm2',
      voters: ['m1', 'm2', 'm3'],
      sm,
      disk,
      transport,
      onFatal: (e) => fatal.push(e),
    });
    await n.start();
    const meta = { index: 50, term: 5, voters: ['m1', 'm2', 'm3'], learners: [] };
    const src = path.join(base, 'leader.snap');
    const items = Array.from({ length: 200 }, (_, i) => `item-${i}`);
    await writeSnapshot(
      src,
      meta,
      (async function* () {
        for (let i = 0; i < items.length; i += 10) yield text(JSON.stringify(items.slice(i, i + 10)));
      })(),
      cipher,
    );
    const parts: Uint8Array[] = [];
    for await (const p of snapshotParts(await readSnapshot(src, cipher), 64)) parts.push(p);
    // Chunks are JSON arrays: Items.restore needs one array, so join them on restore.
    sm.restore = async (_i, chunks) => {
      const all: string[] = [];
      for await (const c of chunks) all.push(...(JSON.parse(untext(c)) as string[]));
      sm.items = all;
    };
    const send = (i: number): void =>
      deliver!({
        type: 'snapshot',
        from: 'm1',
        to: 'm2',
        term: 5,
        snapshot: meta,
        data: parts[i]!,
        part: i,
        last: i === parts.length - 1,
      });
    // The follower is busy writing its WAL (a new term) while the first copy completes, so the
    // install waits and the resend's first part arrives before the staged file is moved into place.
    disk.mode = 'slow';
    deliver!({ type: 'append', from: 'm1', to: 'm2', term: 5, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 });
    for (let i = 0; i < parts.length; i++) send(i);
    await new Promise((r) => setTimeout(r, 50));
    send(0); // the leader's resend, right behind
    send(1);
    await new Promise((r) => setTimeout(r, 300));
    disk.mode = 'ok';
    for (let i = 2; i < parts.length; i++) send(i);
    const end = Date.now() + 5000;
    while (sm.items.length !== items.length && fatal.length === 0 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      fatal.map((e) => e.message),
      [],
    );
    assert.deepEqual(sm.items, items);
    assert.equal(n.progressIndex.applied, 50);
    await n.stop();
  });

  it('a proposal pending when its leader steps down fails as outcome unknown, not as refused', async () => {
    const ids = ['m1', 'm2', 'm3'];
    const handlers = new Map<string, (m: Message) => void>();
    const cutOff = new Set<string>();
    const net = (id: string): Transport => ({
      send: (msgs) => {
        for (const m of msgs) if (!cutOff.has(m.from) && !cutOff.has(m.to)) setImmediate(() => handlers.get(m.to)?.(m));
      },
      onMessage: (h) => void handlers.set(id, h),
    });
    const base = await tempDir();
    const members = ids.map((id, i) => node(path.join(base, id), { id, voters: ids, transport: net(id), seed: i + 7 }));
    for (const n of members) await n.start();
    try {
      const end = Date.now() + 10_000;
      while (!members.some((n) => n.isLeader) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      const leader = members.find((n) => n.isLeader)!;
      await leader.propose(text('before'));
      cutOff.add(ids[members.indexOf(leader)]!);
      // The entry is in the leader's log; check-quorum makes it step down; the others may or may not have it.
      await assert.rejects(leader.propose(text('during')), ProposalOutcomeUnknownError);
      // Off the leader, a proposal is refused outright.
      await assert.rejects(leader.propose(text('after')), NotLeaderError);
    } finally {
      for (const n of members) await n.stop();
    }
  });
});
