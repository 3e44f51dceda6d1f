/**
 * One fault at a time, at a chosen moment, under a whole RaftNode on a simulated disk and virtual
 * time: the expected outcome of each (the node stops for good, refuses to start, or recovers) and
 * that no acknowledged write is lost across it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logging.js';
import { SeededRandom } from '../../src/common/random.js';
import { plainCipher } from '../../src/raft/cipher.js';
import { RaftNode } from '../../src/raft/node.js';
import { RaftFatalError, type Entry, type HardState } from '../../src/raft/types.js';
import { RaftWal } from '../../src/raft/wal.js';
import { ProcessClock } from '../../src/raft/testing.js';
import { KvMachine } from './node-sim.js';
import { NO_FAULTS, SimDisk } from '../../src/raft/sim-disk.js';

const TICK = 10;
const enc = new TextEncoder();

/** A one-member group on `disk`: a process that can be killed and started again on the same disk. */
class Solo {
  readonly clock = new VirtualClock(0);
  readonly disk: SimDisk;
  proc: ProcessClock | undefined;
  node: RaftNode | undefined;
  sm: KvMachine | undefined;
  fatal: RaftFatalError[] = [];

  constructor(seed: number) {
    this.disk = new SimDisk(new SeededRandom(seed), this.clock, TICK, { ...NO_FAULTS });
  }

  async start(): Promise<void> {
    this.proc = new ProcessClock(this.clock);
    this.sm = new KvMachine(
      () => undefined,
      () => undefined,
    );
    this.node = new RaftNode({
      id: 'm1',
      voters: ['m1'],
      dir: '/m1',
      tickMs: TICK,
      electionTick: () => 10,
      heartbeatTick: () => 1,
      snapshotInterval: () => 4,
      keepEntries: () => 1,
      sm: this.sm,
      cipher: plainCipher,
      random: new SeededRandom(1),
      logger: silentLogger,
      fs: this.disk.fs(),
      clock: this.proc,
      onFatal: (e) => this.fatal.push(e),
    });
    const started = this.node.start();
    started.catch(() => undefined); // awaited below, after the disk operations have run
    await this.settle();
    await started;
    await this.run(3);
  }

  /** The process dies; with `powerLoss` what was not synced goes too. */
  crash(powerLoss: boolean): void {
    this.proc?.kill();
    this.disk.crash(false);
    if (powerLoss) this.disk.crash(true);
    this.node = undefined;
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 30; i++) await new Promise<void>((r) => setImmediate(r));
  }

  async run(ticks: number): Promise<void> {
    for (let i = 0; i < ticks; i++) {
      this.clock.advance(TICK);
      await this.settle();
    }
  }

  /** Proposes key=value and lets the node work; resolves with the outcome. */
  async put(key: string, value: string): Promise<'acked' | Error> {
    let outcome: 'acked' | Error | undefined;
    this.node!.propose(enc.encode(JSON.stringify({ key, value, token: value }))).then(
      () => (outcome = 'acked'),
      (e: unknown) => (outcome = e as Error),
    );
    await this.run(5);
    assert.ok(outcome !== undefined, `put ${key}=${value} neither acknowledged nor refused`);
    return outcome;
  }

  get kv(): Map<string, string> {
    return this.sm!.kv;
  }
}

/** A WAL on a fresh simulated disk holding entry 1 synced and entry 2 written, its fsync still pending. */
async function entryTwoInFlight(seed: number): Promise<{ disk: SimDisk; hs: HardState }> {
  const disk = new SimDisk(new SeededRandom(seed), new VirtualClock(0), TICK, { ...NO_FAULTS });
  const entry = (index: number): Entry => ({ index, term: 1, type: 'normal', data: enc.encode(`e${index}`) });
  const hs = { term: 1, vote: 'm1', commit: 1 };
  const wal = new RaftWal('/w', plainCipher, undefined, undefined, disk.fs());
  await wal.open();
  await wal.append(hs, [entry(1)]);
  disk.faults = { ...NO_FAULTS, maxSyncTicks: 50 };
  void wal.append(hs, [entry(2)]).catch(() => undefined);
  await new Promise<void>((r) => setImmediate(r));
  return { disk, hs };
}

describe('raft node on a simulated disk: one fault at a time', () => {
  it('EIO on fsync: the write is refused with RaftFatalError, the node stops; a restart recovers every acknowledged write', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const s = new Solo(seed);
      await s.start();
      assert.equal(await s.put('a', '1'), 'acked');
      s.disk.faults = { ...NO_FAULTS, fsyncEio: 1 };
      const r = await s.put('a', '2');
      assert.ok(r instanceof RaftFatalError, `seed ${seed}: ${String(r)}`);
      assert.equal(s.fatal.length, 1, 'onFatal once');
      assert.ok((await s.put('a', '3')) instanceof RaftFatalError, 'later work is refused');
      s.crash(seed % 2 === 0);
      s.disk.faults = { ...NO_FAULTS };
      await s.start();
      const v = s.kv.get('a');
      assert.ok(v === '1' || v === '2', `seed ${seed}: acknowledged 1 lost or 3 invented (read ${v})`);
      assert.equal(await s.put('b', 'x'), 'acked');
    }
  });

  it('EIO on write and ENOSPC after a partial write: the node stops; after a restart nothing lands behind the garbage', async () => {
    for (const fault of ['writeEio', 'writeEnospc'] as const) {
      for (let seed = 1; seed <= 8; seed++) {
        const s = new Solo(seed);
        await s.start();
        for (let i = 0; i < 6; i++) assert.equal(await s.put(`k${i % 2}`, `v${i}`), 'acked'); // past a snapshot
        s.disk.faults = { ...NO_FAULTS, [fault]: 1 };
        assert.ok((await s.put('k0', 'lost')) instanceof RaftFatalError, `${fault} seed ${seed}`);
        s.crash(seed % 2 === 1);
        s.disk.faults = { ...NO_FAULTS };
        await s.start();
        assert.equal(s.kv.get('k1'), 'v5', `${fault} seed ${seed}: acknowledged write lost`);
        assert.equal(await s.put('k0', 'after'), 'acked');
        s.crash(true);
        await s.start();
        assert.equal(s.kv.get('k0'), 'after', `${fault} seed ${seed}: a write after the restart was lost`);
      }
    }
  });

  it('power loss leaves a torn or zero-filled tail: the node starts, cuts it, keeps every acknowledged write', async () => {
    let torn = 0;
    let zero = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const s = new Solo(seed);
      await s.start();
      assert.equal(await s.put('a', '1'), 'acked');
      // A write whose fsync has not finished when the power goes.
      s.disk.faults = { ...NO_FAULTS, maxSyncTicks: 50 };
      s.node!.propose(enc.encode(JSON.stringify({ key: 'a', value: '2', token: '2' }))).catch(() => undefined);
      await s.run(1);
      s.crash(true);
      s.disk.faults = { ...NO_FAULTS };
      await s.start();
      const v = s.kv.get('a');
      // The unacknowledged write may have reached the platter whole; the acknowledged one must be there.
      assert.ok(v === '1' || v === '2', `seed ${seed}: the acknowledged write was lost (read ${v})`);
      assert.equal(await s.put('a', '3'), 'acked');
      torn += s.disk.struck.torn;
      zero += s.disk.struck.zeroFilled;
    }
    assert.ok(torn > 0 && zero > 0, `both kinds of tail were tried (torn ${torn}, zero-filled ${zero})`);
  });

  it('a torn tail cut at start stays cut after the next power loss (regression: it came back in front of a newer segment and the WAL refused to start)', async () => {
    for (const tail of ['torn', 'zero'] as const) {
      const { disk, hs } = await entryTwoInFlight(7); // its fsync never finishes
      disk.crash(true, tail);
      disk.faults = { ...NO_FAULTS };
      const again = new RaftWal('/w', plainCipher, undefined, undefined, disk.fs());
      assert.deepEqual(
        (await again.open()).entries.map((e) => e.index),
        [1],
      );
      // A snapshot from the leader starts a new segment; then the power goes again.
      await again.cut({ index: 1, term: 1 }, hs, []);
      disk.crash(true);
      const third = new RaftWal('/w', plainCipher, undefined, undefined, disk.fs());
      const st = await third.open();
      assert.equal(st.snapshot?.index, 1, tail);
      assert.equal(disk.struck.torn + disk.struck.zeroFilled, 1, 'the tail was really left behind');
    }
  });

  it('what the WAL reads back at start survives the next power loss (the process died before its fsync returned; a record it then acknowledges must be on the platter)', async () => {
    const { disk } = await entryTwoInFlight(9); // written; its fsync never returns
    disk.crash(false); // the process dies, the page cache stays
    disk.faults = { ...NO_FAULTS };
    const again = new RaftWal('/w', plainCipher, undefined, undefined, disk.fs());
    assert.deepEqual(
      (await again.open()).entries.map((e) => e.index),
      [1, 2],
    );
    disk.crash(true);
    const third = new RaftWal('/w', plainCipher, undefined, undefined, disk.fs());
    assert.deepEqual(
      (await third.open()).entries.map((e) => e.index),
      [1, 2],
      'entry 2 was read back (and could be acknowledged) after the restart: it must survive a power loss',
    );
  });

  it('a flipped bit in a synced record before the tail: the node refuses to start, naming the file', async () => {
    const s = new Solo(3);
    await s.start();
    // Snapshots far apart, so the segment keeps several records.
    for (let i = 0; i < 3; i++) assert.equal(await s.put('a', `${i}`), 'acked');
    s.crash(true);
    const file = s.disk.flipBit('/m1/wal');
    assert.ok(file, 'a record to flip');
    await assert.rejects(s.start(), (e: Error) => e.message.includes(file) && /corrupt/.test(e.message));
  });

  it('a lying fsync loses an acknowledged write at power loss (what the planted bug looks like)', async () => {
    const s = new Solo(5);
    await s.start();
    s.disk.faults = { ...NO_FAULTS, lyingFsync: 1 };
    assert.equal(await s.put('a', '1'), 'acked');
    s.crash(true);
    s.disk.faults = { ...NO_FAULTS };
    await s.start();
    assert.equal(s.kv.get('a'), undefined, 'the write was acknowledged and is gone');
    assert.ok(s.disk.struck.lies > 0);
  });
});
