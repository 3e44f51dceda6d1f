/**
 * Deterministic simulation of a Raft cluster: one seed drives a virtual clock, a network that
 * delays, drops, duplicates and reorders messages and cuts links (partitions, one-way links), and
 * disks whose writes take time (the member keeps receiving messages meanwhile, as RaftNode does).
 * Faults: crashes (an in-flight write is lost, or reached the disk without being acknowledged),
 * fsync errors (the member stops for good and is restarted from disk by its supervisor), lost disks
 * (the member is removed and rejoins empty under a new ID), and membership changes during all of it
 * (add a learner, promote it, remove a follower or the leader, transfer leadership). Snapshots with
 * log compaction and InstallSnapshot to followers that fell behind. A client writes and reads a
 * key-value register through whoever leads.
 *
 * Checked after every event: election safety, leader completeness, log matching (incrementally, on
 * every entry a member persists), state machine safety (the same entry at every index everywhere).
 * At the end everything heals, a write must commit, no acknowledged write may be lost, members at
 * the same index hold the same state, and the client history must be linearizable.
 */
import { SeededRandom } from '../../src/common/random.js';
import { decodeConfChange, Raft, sendableBeforePersist } from '../../src/raft/raft.js';
import type { ConfChange, Entry, HardState, Message, Ready, SnapshotMeta } from '../../src/raft/types.js';
import { checkHistory, type Op } from './linearizability.js';
import type { Mutation } from './mutations.js';

export interface SimOptions {
  seed: number;
  steps: number;
  nodes: number;
  /** A planted bug (see mutations.ts); core ones are patched in by the caller, wrapper ones act here. */
  mutation?: Mutation;
}

export interface SimResult {
  ok: boolean;
  error?: string;
  stats: {
    ticks: number;
    messages: number;
    commits: number;
    leaders: number;
    crashes: number;
    ops: number;
    acked: number;
    snapshots: number;
    installs: number;
    tornWrites: number;
    fsyncErrors: number;
    confChanges: number;
    lostDisks: number;
  };
}

interface StoredSnapshot {
  meta: SnapshotMeta;
  kv: [string, string][];
}

interface Disk {
  hardState: HardState;
  /** Entries after the snapshot. */
  entries: Entry[];
  snapshot: StoredSnapshot | undefined;
}

/** A Ready being written: its early messages left, the rest waits for the write to finish. */
interface Write {
  ready: Ready;
  late: Message[];
  doneAt: number;
}

interface Member {
  id: string;
  raft: Raft | undefined; // undefined while down
  disk: Disk;
  /** What really reached the platter (differs from `disk` only under a lying fsync). */
  platter: Disk;
  /** Stopped for good after a fsync error, until its supervisor restarts it. */
  stoppedAt: number | undefined;
  /** Gone for good (removed from the group, or its disk was lost). */
  retired: boolean;
  /** Readies being written, oldest first (more than one when the seed pipelines writes). */
  writing: Write[];
  /** A paused process (GC pause, SIGSTOP): no ticks, no processing, messages wait. */
  pausedUntil: number;
  /** A leader that flaps: it crashes at this tick, soon after it was elected. */
  crashAt: number | undefined;
  kv: Map<string, string>;
  appliedIndex: number;
  /** Pending client work on this member: proposals by index, reads by ctx. */
  proposals: Map<number, PendingOp>;
  reads: Map<number, PendingOp>;
  readIndexes: { ctx: number; index: number }[];
}

interface PendingOp {
  opIndex: number;
  token: string;
}

interface InFlight {
  at: number;
  seq: number;
  msg: Message;
}

interface HistoryEntry {
  op: Op & { ret: number };
  acked: boolean;
  /** Known not to have taken effect (its index went to another leader's entry). */
  failed: boolean;
  token: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const cloneDisk = (d: Disk): Disk => ({ hardState: { ...d.hardState }, entries: [...d.entries], snapshot: d.snapshot });

export class Simulation {
  private rng: SeededRandom;
  private members: Member[] = [];
  private net: InFlight[] = [];
  private seq = 0;
  private now = 0;
  private cut = new Set<string>();
  private history: HistoryEntry[] = [];
  private leadersByTerm = new Map<number, string>();
  /** index -> "term:type:data" of the first application seen anywhere. */
  private appliedGlobal = new Map<number, string>();
  /**
   * index -> the highest term any leader had when the entry was first applied: it was committed in
   * that term or earlier, so every leader of a later term must hold it. (A leader of an older term can
   * still appear late, e.g. after a pause, without it: that is allowed.)
   */
  private committedBy = new Map<number, number>();
  private maxLeaderTerm = 0;
  private faultsOn = true;
  private leaderCommit = new Map<string, { term: number; commit: number; voters: string }>();
  /** "index:term" -> "prevTerm:type:data" of every entry any member persisted (log matching). */
  private persistedGlobal = new Map<string, string>();
  private stateCache: { index: number; kv: Map<string, string> } | undefined;
  private nextId: number;
  private stats: SimResult['stats'] = {
    ticks: 0,
    messages: 0,
    commits: 0,
    leaders: 0,
    crashes: 0,
    ops: 0,
    acked: 0,
    snapshots: 0,
    installs: 0,
    tornWrites: 0,
    fsyncErrors: 0,
    confChanges: 0,
    lostDisks: 0,
  };
  // The fault mix is drawn from the seed too ("swarm testing"); a stormy seed has many more faults.
  private readonly dropRate: number;
  private readonly dupRate: number;
  private readonly maxDelay: number;
  private readonly crashRate: number;
  private readonly partitionRate: number;
  private readonly maxWriteTicks: number;
  private readonly fsyncErrorRate: number;
  private readonly confRate: number;
  private readonly lostDiskRate: number;
  private readonly pauseRate: number;
  /** Chance that a newly elected leader crashes within a few ticks (divergent logs, Figure 8). */
  private readonly flapRate: number;
  /** Readies written at once (1: RaftNode's loop; more: pipelined writes, as etcd's async storage). */
  private readonly pipeline: number;
  private readonly maxEntriesPerMsg: number;
  /** Applied entries between snapshots (0: never), and entries kept behind one for slow followers. */
  private readonly snapshotInterval: number;
  private readonly keepEntries: number;

  constructor(private readonly o: SimOptions) {
    this.rng = new SeededRandom(o.seed);
    const storm = this.rng.next() < 0.3 ? 5 : 1;
    this.dropRate = this.rng.next() * 0.1;
    this.dupRate = this.rng.next() * 0.05;
    this.maxDelay = 1 + this.rng.int(storm > 1 ? 12 : 4); // up to longer than an election timeout
    this.crashRate = this.rng.next() * 0.004 * storm;
    this.partitionRate = this.rng.next() * 0.01 * storm;
    // A slow disk: an fsync slower than the network's round trip, so followers answer first.
    this.maxWriteTicks = this.rng.next() < 0.3 ? 3 + this.rng.int(6) : this.rng.int(3);
    this.fsyncErrorRate = this.rng.next() < 0.3 ? this.rng.next() * 0.003 * storm : 0;
    this.confRate = this.rng.next() < 0.4 ? this.rng.next() * 0.01 : 0;
    this.lostDiskRate = this.rng.next() < 0.2 ? this.rng.next() * 0.001 : 0;
    this.pauseRate = this.rng.next() < 0.4 ? this.rng.next() * 0.01 : 0;
    this.flapRate = this.rng.next() < 0.3 ? 0.1 + this.rng.next() * 0.3 : 0;
    this.pipeline = this.rng.next() < 0.6 ? 1 : 2 + this.rng.int(2);
    this.maxEntriesPerMsg = [1, 2, 8][this.rng.int(3)]!;
    this.snapshotInterval = this.rng.next() < 0.25 ? 0 : 5 + this.rng.int(40);
    this.keepEntries = this.rng.int(10);
    const ids = Array.from({ length: o.nodes }, (_, i) => `m${i + 1}`);
    this.nextId = o.nodes + 1;
    for (const id of ids) this.members.push(this.newMember(id));
    // Every founding member starts with the full voter list.
    for (const m of this.members) this.start(m, ids);
  }

  run(): SimResult {
    try {
      for (let step = 0; step < this.o.steps; step++) this.step(true);
      this.finish();
      return { ok: true, stats: this.stats };
    } catch (e) {
      return { ok: false, error: (e as Error).message, stats: this.stats };
    }
  }

  private newMember(id: string): Member {
    const disk: Disk = { hardState: { term: 0, vote: '', commit: 0 }, entries: [], snapshot: undefined };
    return {
      id,
      raft: undefined,
      disk,
      platter: cloneDisk(disk),
      stoppedAt: undefined,
      retired: false,
      writing: [],
      pausedUntil: 0,
      crashAt: undefined,
      kv: new Map(),
      appliedIndex: 0,
      proposals: new Map(),
      reads: new Map(),
      readIndexes: [],
    };
  }

  private founders(): string[] {
    return Array.from({ length: this.o.nodes }, (_, i) => `m${i + 1}`);
  }

  private start(m: Member, voters = this.founders()): void {
    const snap = m.disk.snapshot;
    m.raft = new Raft(
      {
        id: m.id,
        voters,
        electionTick: 10,
        heartbeatTick: 1,
        random: new SeededRandom(this.rng.int(2 ** 31)),
        maxEntriesPerMsg: this.maxEntriesPerMsg,
        maxInflight: 4,
      },
      { hardState: { ...m.disk.hardState }, entries: [...m.disk.entries], ...(snap ? { snapshot: snap.meta } : {}) },
    );
    // The state machine restarts from the snapshot; committed entries after it come out again.
    m.kv = new Map(snap?.kv ?? []);
    m.appliedIndex = snap?.meta.index ?? 0;
    m.stoppedAt = undefined;
    m.writing = [];
    m.pausedUntil = 0;
    m.proposals.clear();
    m.reads.clear();
    m.readIndexes = [];
  }

  /** Power loss or kill: what was on its way to the disk may or may not have arrived. */
  private crash(m: Member): void {
    // Writes in flight reach the disk in order, up to some point; nobody heard of those that did.
    for (const w of m.writing) {
      this.stats.tornWrites++;
      if (this.rng.next() >= 0.3) break;
      this.persist(m, w.ready);
    }
    this.down(m);
    m.crashAt = undefined;
    if (this.o.mutation === 'lying-fsync') m.disk = cloneDisk(m.platter);
  }

  private down(m: Member): void {
    m.raft = undefined;
    m.writing = [];
    this.stats.crashes++;
    // Its outstanding client operations have unknown outcomes.
    for (const p of [...m.proposals.values(), ...m.reads.values()]) this.history[p.opIndex]!.op.ret = Infinity;
    m.proposals.clear();
    m.reads.clear();
  }

  private live(): Member[] {
    return this.members.filter((m) => m.raft);
  }

  /** One unit of virtual time: faults, client ops, ticks, finished writes and deliveries. */
  private step(faults: boolean): void {
    this.faultsOn = faults;
    this.now++;
    this.stats.ticks++;
    if (faults) this.injectFaults();
    if (this.rng.next() < 0.3) this.clientOp();
    for (const m of this.members) if (!this.paused(m)) m.raft?.tick();
    this.pump(faults);
    this.finishWrites(faults);
    this.deliverDue();
    this.pump(faults);
    this.finishWrites(faults);
  }

  private injectFaults(): void {
    for (const m of this.members) {
      if (m.retired) continue;
      if (m.raft && m.crashAt !== undefined && m.crashAt <= this.now) {
        m.crashAt = undefined;
        this.crash(m);
      } else if (m.raft && this.rng.next() < this.crashRate) this.crash(m);
      else if (!m.raft && m.stoppedAt === undefined && this.rng.next() < 0.05) this.start(m);
      else if (!m.raft && m.stoppedAt !== undefined && this.now - m.stoppedAt > 20) this.start(m); // the supervisor
    }
    if (this.rng.next() < this.partitionRate) {
      this.cut.clear();
      const kind = this.rng.int(3);
      const ids = this.members.map((m) => m.id);
      if (kind === 0) {
        // Split into two sides.
        const side = new Set(ids.filter(() => this.rng.next() < 0.5));
        for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}->${b}`);
      } else if (kind === 1) {
        // One-way links.
        for (const a of ids) for (const b of ids) if (a !== b && this.rng.next() < 0.2) this.cut.add(`${a}->${b}`);
      }
    }
    if (this.rng.next() < this.confRate) this.changeMembership();
    if (this.rng.next() < this.lostDiskRate) this.loseDisk();
    for (const m of this.live()) {
      if (m.pausedUntil === this.now)
        this.clientOp(m); // its client was waiting: first thing after the pause
      else if (!this.paused(m) && this.rng.next() < this.pauseRate) m.pausedUntil = this.now + 5 + this.rng.int(30);
    }
  }

  private paused(m: Member): boolean {
    return m.pausedUntil > this.now;
  }

  private leaderMember(): Member | undefined {
    return this.live().find((m) => m.raft!.role === 'leader');
  }

  /** A membership change through the current leader: grow with a learner, promote, shrink, transfer. */
  private changeMembership(): void {
    const l = this.leaderMember();
    if (!l) return;
    const r = l.raft!;
    const learner = [...r.learners][0];
    const voters = [...r.voters];
    const choice = this.rng.int(4);
    let cc: ConfChange | undefined;
    if (choice === 0 && learner === undefined && voters.length < 7) {
      const m = this.newMember(`m${this.nextId++}`);
      this.members.push(m);
      // The bootstrap membership, as every founder has it: the log's changes are relative to it.
      this.start(m);
      cc = { kind: 'addLearner', member: m.id };
    } else if (choice === 1 && learner !== undefined) {
      cc = { kind: 'add', member: learner };
    } else if (choice === 2 && voters.length > 3) {
      cc = { kind: 'remove', member: voters[this.rng.int(voters.length)]! }; // the leader too, sometimes
    } else if (choice === 3 && voters.length > 1) {
      r.transferLeadership(voters[this.rng.int(voters.length)]!);
      return;
    }
    if (!cc) return;
    try {
      r.proposeConfChange(cc);
      this.stats.confChanges++;
    } catch {
      // one change at a time: try again later
    }
  }

  /** A member's disk is gone: the operator removes it and it joins again, empty, under a new ID. */
  private loseDisk(): void {
    const l = this.leaderMember();
    if (!l) return;
    const r = l.raft!;
    const victims = [...r.voters].filter((id) => id !== l.id);
    if (victims.length < 3 || r.learners.size > 0) return;
    const id = victims[this.rng.int(victims.length)]!;
    try {
      r.proposeConfChange({ kind: 'remove', member: id });
    } catch {
      return;
    }
    const v = this.members.find((m) => m.id === id)!;
    this.down(v);
    v.retired = true;
    this.stats.lostDisks++;
  }

  private clientOp(to?: Member): void {
    const live = this.live().filter((x) => !this.paused(x));
    if (live.length === 0) return;
    const m = to ?? live[this.rng.int(live.length)]!;
    const raft = m.raft!;
    // A client that reached a non-leader is told so and tries elsewhere (skip building the error).
    if (raft.role !== 'leader') return;
    const key = `k${this.rng.int(3)}`;
    if (this.rng.next() < 0.6) {
      const token = `${this.o.seed}-${this.history.length}`;
      const value = `v${this.history.length}`;
      try {
        const index = raft.propose(enc.encode(JSON.stringify({ key, value, token })));
        const opIndex =
          this.history.push({
            op: { key, kind: 'put', value, call: this.now, ret: Infinity },
            acked: false,
            failed: false,
            token,
          }) - 1;
        m.proposals.set(index, { opIndex, token });
        this.stats.ops++;
      } catch {
        // Not the leader: the client would try elsewhere.
      }
    } else {
      try {
        const ctx = raft.readIndex();
        const opIndex =
          this.history.push({
            op: { key, kind: 'get', value: '', call: this.now, ret: Infinity },
            acked: false,
            failed: false,
            token: '',
          }) - 1;
        m.reads.set(ctx, { opIndex, token: '' });
        this.stats.ops++;
      } catch {
        // Not the leader, or no entry committed in this term yet.
      }
    }
  }

  private send(from: Member, msgs: readonly Message[]): void {
    for (let msg of msgs) {
      this.stats.messages++;
      if (msg.type === 'snapshot') {
        const snap = from.disk.snapshot;
        if (!snap || snap.meta.index !== msg.snapshot.index) {
          // Replaced by a newer one while the message waited for its write (pipelined writes): like
          // RaftNode when the file is gone, report the failure and the leader sends the newer one.
          if (!snap || snap.meta.index < msg.snapshot.index)
            throw new Error(`${from.id} sent snapshot ${msg.snapshot.index} but holds ${snap?.meta.index}`);
          from.raft?.reportSnapshotFailure(msg.to);
          continue;
        }
        msg = { ...msg, data: enc.encode(JSON.stringify(snap.kv)) };
        from.raft?.reportSnapshotSent(msg.to);
      }
      if (this.cut.has(`${msg.from}->${msg.to}`) || this.rng.next() < this.dropRate) continue;
      const copies = this.rng.next() < this.dupRate ? 2 : 1;
      for (let i = 0; i < copies; i++)
        this.net.push({ at: this.now + 1 + this.rng.int(this.maxDelay), seq: this.seq++, msg });
    }
  }

  private deliverDue(): void {
    const due = this.net.filter((f) => f.at <= this.now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.net = this.net.filter((f) => f.at > this.now);
    for (const f of due) {
      const to = this.members.find((m) => m.id === f.msg.to);
      if (!to?.raft || this.cut.has(`${f.msg.from}->${f.msg.to}`)) continue;
      if (this.paused(to)) {
        this.net.push({ ...f, at: to.pausedUntil }); // waits in the socket buffer
        continue;
      }
      to.raft.step(f.msg);
      this.checkInvariants();
    }
  }

  /**
   * Starts writing every idle member's Ready: its early messages leave now (a leader's appends), the
   * rest when the write is done. A write may take a few ticks, during which the member keeps
   * receiving messages; its next Ready waits, as in RaftNode's processing loop.
   */
  private pump(faults = false): void {
    for (let round = 0; round < 50; round++) {
      let moved = false;
      for (const m of this.members) {
        const r = m.raft;
        if (!r || this.paused(m) || m.writing.length >= this.pipeline || !r.hasReady()) continue;
        moved = true;
        const ready = r.ready();
        const early = ready.messages.filter((msg) => sendableBeforePersist(msg, r.role));
        const late = ready.messages.filter((msg) => !early.includes(msg));
        this.send(m, early);
        if (this.o.mutation === 'send-before-sync') this.send(m, late.splice(0));
        this.checkPersisting(m, ready);
        // Writes finish in order.
        const doneAt = Math.max(m.writing.at(-1)?.doneAt ?? 0, this.now + this.rng.int(this.maxWriteTicks + 1));
        m.writing.push({ ready, late, doneAt });
        this.finishWrites(faults, m);
      }
      if (!moved) return;
    }
  }

  private finishWrites(faults: boolean, only?: Member): void {
    for (const m of only ? [only] : this.members) {
      while (m.raft && !this.paused(m) && m.writing.length > 0 && m.writing[0]!.doneAt <= this.now)
        this.finishWrite(m, faults);
    }
  }

  /** The oldest write in flight completes (or fails): then send the rest, apply, answer reads. */
  private finishWrite(m: Member, faults: boolean): void {
    const w = m.writing[0]!;
    const r = m.raft!;
    if (faults && this.rng.next() < this.crashRate) {
      // Power lost while this Ready was being written.
      this.crash(m);
      return;
    }
    if (faults && this.rng.next() < this.fsyncErrorRate) {
      this.stats.fsyncErrors++;
      if (this.o.mutation === 'continue-after-fsync-error') {
        // The old RaftNode: log it and carry on. The kernel dropped the pages; the Ready's
        // advance, messages and applies are skipped, and the next Ready goes on as if all was well.
        m.writing.shift();
        return;
      }
      // fsync failed: stop for good (the record may have reached the disk); the supervisor restarts it.
      if (this.rng.next() < 0.5) this.persist(m, w.ready);
      this.down(m);
      m.stoppedAt = this.now;
      return;
    }
    this.persist(m, w.ready);
    if (this.o.mutation !== 'lying-fsync' || this.rng.next() < 0.2) m.platter = cloneDisk(m.disk);
    m.writing.shift();
    const last = w.ready.entries.at(-1);
    r.advance(last?.index ?? 0, last?.term);
    this.send(m, w.late);
    for (const e of w.ready.committed) this.apply(m, e);
    this.maybeSnapshot(m);
    for (const rs of w.ready.readStates) m.readIndexes.push(rs);
    this.completeReads(m);
    this.checkInvariants();
  }

  private persist(m: Member, ready: Ready): void {
    if (ready.snapshot) this.install(m, ready.snapshot);
    if (ready.hardState) m.disk.hardState = { ...ready.hardState };
    if (ready.entries.length) {
      const first = ready.entries[0]!.index;
      m.disk.entries = m.disk.entries.filter((e) => e.index < first).concat(ready.entries);
    }
  }

  /**
   * Log matching, incrementally: an entry persisted anywhere at (index, term) must carry the same
   * data and follow an entry of the same term as every other entry ever persisted at (index, term).
   */
  private checkPersisting(m: Member, ready: Ready): void {
    const log = m.raft!.log;
    for (const e of ready.entries) {
      const prevTerm = e.index === 1 ? 0 : (log.termAt(e.index - 1) ?? -1);
      const sig = `${prevTerm}:${e.type}:${dec.decode(e.data)}`;
      const k = `${e.index}:${e.term}`;
      const seen = this.persistedGlobal.get(k);
      if (seen === undefined) this.persistedGlobal.set(k, sig);
      else if (seen !== sig && prevTerm !== -1 && !seen.startsWith('-1:'))
        throw new Error(`log matching: ${m.id} persists ${k} as ${sig}, elsewhere it is ${seen}`);
    }
  }

  /** A snapshot from the leader replaces this member's state machine and log. */
  private install(m: Member, s: SnapshotMeta & { data?: Uint8Array }): void {
    const kv = JSON.parse(dec.decode(s.data!)) as [string, string][];
    // The snapshot must hold exactly the state of applying the committed log up to its index.
    const expected = this.stateAt(s.index);
    const got = new Map(kv);
    if (got.size !== expected.size || [...expected].some(([k, v]) => got.get(k) !== v)) {
      throw new Error(`snapshot ${s.index} installed on ${m.id} differs from the committed state at that index`);
    }
    m.disk.snapshot = {
      meta: {
        index: s.index,
        term: s.term,
        voters: [...s.voters],
        learners: [...s.learners],
        removed: [...(s.removed ?? [])],
      },
      kv,
    };
    m.disk.entries = [];
    m.kv = got;
    m.appliedIndex = s.index;
    m.raft?.appliedTo(s.index);
    // Proposals at or below the snapshot: their outcome is no longer visible here.
    for (const [index, p] of m.proposals) {
      if (index <= s.index) {
        m.proposals.delete(index);
        this.history[p.opIndex]!.op.ret = Infinity;
      }
    }
    this.stats.installs++;
  }

  /** The key-value state after applying the committed entries 1..index (as first applied anywhere). */
  private stateAt(index: number): Map<string, string> {
    // Installs mostly move forward: extend the last computed state instead of replaying from 1.
    const fromCache = this.stateCache && this.stateCache.index <= index;
    const kv = new Map<string, string>(fromCache ? this.stateCache!.kv : []);
    for (let i = fromCache ? this.stateCache!.index + 1 : 1; i <= index; i++) {
      const sig = this.appliedGlobal.get(i);
      if (sig === undefined) throw new Error(`snapshot covers index ${i}, which no member ever applied`);
      const body = sig.slice(sig.indexOf(':', sig.indexOf(':') + 1) + 1);
      if (sig.split(':')[1] !== 'normal') continue;
      const cmd = JSON.parse(body) as { key: string; value: string };
      kv.set(cmd.key, cmd.value);
    }
    this.stateCache = { index, kv: new Map(kv) };
    return kv;
  }

  private maybeSnapshot(m: Member): void {
    const r = m.raft;
    if (!r || this.snapshotInterval === 0) return;
    const last = m.disk.snapshot?.meta.index ?? 0;
    if (m.appliedIndex - last < this.snapshotInterval) return;
    // A snapshot from the leader reset the log past what is applied here: its install comes first
    // (RaftNode skips the same way).
    if (r.log.termAt(m.appliedIndex) === undefined) return;
    const meta = r.snapshotTaken(m.appliedIndex, this.keepEntries);
    m.disk.snapshot = { meta, kv: [...m.kv] };
    m.disk.entries = m.disk.entries.filter((e) => e.index > meta.index);
    if (this.o.mutation !== 'lying-fsync') m.platter = cloneDisk(m.disk);
    this.stats.snapshots++;
  }

  private apply(m: Member, e: Entry): void {
    if (e.index !== m.appliedIndex + 1) throw new Error(`${m.id} applied index ${e.index} after ${m.appliedIndex}`);
    m.appliedIndex = e.index;
    const sig = `${e.term}:${e.type}:${dec.decode(e.data)}`;
    const seen = this.appliedGlobal.get(e.index);
    if (seen === undefined) {
      this.appliedGlobal.set(e.index, sig);
      this.committedBy.set(e.index, this.maxLeaderTerm);
      this.stats.commits++;
    } else if (seen !== sig) {
      throw new Error(`state machine safety: index ${e.index} applied as ${seen} and as ${sig} (on ${m.id})`);
    }
    if (e.type === 'conf') m.raft?.applyConfChange(decodeConfChange(e.data), e.index);
    m.raft?.appliedTo(e.index);
    let token = '';
    if (e.type === 'normal') {
      const cmd = JSON.parse(dec.decode(e.data)) as { key: string; value: string; token: string };
      m.kv.set(cmd.key, cmd.value);
      token = cmd.token;
    }
    const p = m.proposals.get(e.index);
    if (p) {
      m.proposals.delete(e.index);
      const h = this.history[p.opIndex]!;
      if (token === p.token) {
        h.op.ret = this.now;
        h.acked = true;
        this.stats.acked++;
      } else {
        h.failed = true; // another leader's entry took its index: it never takes effect
      }
    }
    if (e.type === 'conf') this.retireRemoved(decodeConfChange(e.data));
  }

  /** A member removed from the group stops (a real manager leaves); it is not restarted. */
  private retireRemoved(cc: ConfChange): void {
    if (cc.kind !== 'remove') return;
    const v = this.members.find((m) => m.id === cc.member);
    if (!v || v.retired) return;
    if (v.raft) this.down(v);
    v.retired = true;
  }

  private completeReads(m: Member): void {
    m.readIndexes = m.readIndexes.filter((rs) => {
      if (m.appliedIndex < rs.index) return true;
      const p = m.reads.get(rs.ctx);
      if (p) {
        m.reads.delete(rs.ctx);
        const h = this.history[p.opIndex]!;
        (h.op as { value: string }).value = m.kv.get(h.op.key) ?? '';
        h.op.ret = this.now;
        h.acked = true;
      }
      return false;
    });
  }

  /** Whether a member's disk holds the entry (index, term), itself or under its snapshot. */
  private onDisk(m: Member, index: number, term: number): boolean {
    const snap = m.disk.snapshot?.meta;
    if (snap && index <= snap.index) return index < snap.index || snap.term === term;
    const first = m.disk.entries[0]?.index;
    if (first === undefined) return false;
    return m.disk.entries[index - first]?.term === term;
  }

  private checkInvariants(): void {
    for (const m of this.members) {
      const r = m.raft;
      if (!r || r.role !== 'leader') continue;
      const seen = this.leaderCommit.get(r.id);
      const advanced = seen !== undefined && seen.term === r.term && r.commit > seen.commit;
      // A leader's new commit point is on the disks of a majority of its voters: what "committed"
      // means, checked directly (a leader counting itself before its own write breaks it long
      // before a crash shows it).
      // (Counted with the voters of the moment: skip an event in which they changed.)
      if (advanced && seen.voters === [...r.voters].join()) {
        const term = r.log.termAt(r.commit)!;
        const holders = [...r.voters].filter((id) => {
          const v = this.members.find((x) => x.id === id);
          return v !== undefined && this.onDisk(v, r.commit, term);
        }).length;
        if (holders < Math.floor(r.voters.size / 2) + 1)
          throw new Error(
            `durability: ${r.id} commits ${r.commit} (term ${term}), which only ${holders} of ${r.voters.size} voters hold on disk`,
          );
      }
      // Raft §5.4.2: a leader commits only entries of its own term by counting.
      if (advanced && r.log.termAt(r.commit) !== r.term) {
        throw new Error(`${r.id} (term ${r.term}) committed ${r.commit} of term ${r.log.termAt(r.commit)} by counting`);
      }
      this.leaderCommit.set(r.id, { term: r.term, commit: r.commit, voters: [...r.voters].join() });
      const prev = this.leadersByTerm.get(r.term);
      if (prev === undefined) {
        this.leadersByTerm.set(r.term, r.id);
        this.maxLeaderTerm = Math.max(this.maxLeaderTerm, r.term);
        if (this.faultsOn && this.rng.next() < this.flapRate) m.crashAt = this.now + this.rng.int(6);
        this.stats.leaders++;
        // Leader completeness: a new leader holds every entry committed in an earlier term.
        for (const [index, sig] of this.appliedGlobal) {
          if (index <= r.log.compactedTo.index) continue; // in its snapshot, checked when made or installed
          if ((this.committedBy.get(index) ?? 0) >= r.term) continue;
          const e = r.log.entry(index);
          if (!e || `${e.term}:${e.type}:${dec.decode(e.data)}` !== sig) {
            throw new Error(`leader completeness: ${r.id} leads term ${r.term} without committed entry ${index}`);
          }
        }
      } else if (prev !== r.id) {
        throw new Error(`election safety: ${prev} and ${r.id} both lead term ${r.term}`);
      }
    }
  }

  private finish(): void {
    // Heal: links restored, members that are not gone for good restarted, no more faults.
    this.cut.clear();
    for (const m of this.members) if (!m.raft && !m.retired) this.start(m);
    let committed = false;
    const marker = `final-${this.o.seed}`;
    // One proposal per leader term: a lagging member must catch up without new writes pushing it.
    const proposedIn = new Set<number>();
    const current = (): Member[] => {
      const l = this.leaderMember();
      if (!l) return [];
      const r = l.raft!;
      return this.members.filter((m) => r.voters.has(m.id) || r.learners.has(m.id));
    };
    for (let i = 0; i < 3000 && !committed; i++) {
      this.step(false);
      const leader = this.leaderMember();
      // The operator removes members whose disks were lost and are still in the membership.
      const gone =
        leader &&
        [...leader.raft!.voters, ...leader.raft!.learners].find((id) => this.members.find((m) => m.id === id)?.retired);
      if (gone) {
        try {
          leader.raft!.proposeConfChange({ kind: 'remove', member: gone });
        } catch {
          // one change at a time
        }
      }
      if (leader && !proposedIn.has(leader.raft!.term)) {
        try {
          leader.raft!.propose(enc.encode(JSON.stringify({ key: 'final', value: marker, token: marker })));
          proposedIn.add(leader.raft!.term);
        } catch {
          // retry later
        }
      }
      const group = current();
      committed = group.length > 0 && group.every((m) => m.kv.get('final') === marker);
    }
    if (!committed) throw new Error('liveness: no write committed on every member within 3000 ticks after healing');
    // No acknowledged write lost: every acked put is in the committed log.
    const applied = new Set<string>();
    for (const sig of this.appliedGlobal.values()) {
      const m = /"token":"([^"]+)"/.exec(sig);
      if (m) applied.add(m[1]!);
    }
    for (const h of this.history) {
      if (h.op.kind === 'put' && h.acked && !applied.has(h.token))
        throw new Error(`acknowledged write ${h.token} was lost`);
    }
    // State equality: members that applied the same index hold the same state, the committed one.
    for (const m of current()) {
      const want = this.stateAt(m.appliedIndex);
      if (want.size !== m.kv.size || [...want].some(([k, v]) => m.kv.get(k) !== v))
        throw new Error(`${m.id} at index ${m.appliedIndex} holds another state than the committed log gives`);
    }
    const lin = checkHistory(this.history.filter((h) => !h.failed).map((h) => h.op));
    if (!lin.ok) throw new Error(`linearizability: key ${lin.key}: ${lin.reason}`);
  }
}

export function replayCommand(o: SimOptions): string {
  return `npm run sim -- --seed ${o.seed} --steps ${o.steps} --nodes ${o.nodes}${o.mutation ? ` --mutation ${o.mutation}` : ''}`;
}
