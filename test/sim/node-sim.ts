/**
 * Deterministic simulation of whole RaftNodes (src/raft/node.ts: its Ready loop, WAL, snapshot
 * files, snapshot streaming, proposal and read bookkeeping), each on a simulated disk (src/raft/sim-disk.ts)
 * and all on one virtual clock and one simulated network, driven by one seed.
 *
 * Faults drawn per seed: message delay (past an election timeout), loss, duplication, partitions and
 * one-way links; processes killed or losing power (unsynced data lost, torn or zero-filled tails);
 * EIO and ENOSPC on writes and fsyncs (the node must stop with RaftFatalError; its supervisor
 * restarts it from disk); a flipped bit in a synced WAL record (the node must refuse to start; the
 * operator replaces it); lost disks (the member is removed and a new one joins empty under a new
 * ID); paused processes (their timers, messages and disk operations wait); membership changes (add a learner, promote, remove a follower or the
 * leader, transfer leadership). A client writes and reads a key-value register through the nodes'
 * public API (propose, readBarrier).
 *
 * Checked after every event (a message handled, a record written, an entry applied, a message
 * sent) and after every step: election safety; leader completeness (a new leader holds every entry
 * committed in an earlier term); a leader's new commit point is of its own term (Figure 8) and on
 * the synced disks of a majority of its voters; log matching (every entry persisted anywhere at an
 * index and term carries the same data behind the same previous term); state machine safety (one
 * entry per index across all members); state equality (a member that applied index i holds the
 * committed state at i; a restored snapshot equals it too); a read served through readBarrier
 * reflects every entry committed anywhere before it was asked; a node starts over any disk the
 * faults above can leave except a flipped bit. At the end everything heals, a write must commit on
 * every member, no acknowledged write may be lost, and the client history must be linearizable (a
 * write that never took effect, such as one whose index went to another leader's entry, counts as
 * failed rather than unknown).
 */
import { VirtualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logging.js';
import { SeededRandom } from '../../src/common/random.js';
import { plainCipher } from '../../src/raft/cipher.js';
import { RaftNode, type StateMachine, type Transport } from '../../src/raft/node.js';
import type { Raft } from '../../src/raft/raft.js';
import {
  NotLeaderError,
  type ConfChange,
  type Entry,
  type HardState,
  type Message,
  type SnapshotMeta,
} from '../../src/raft/types.js';
import type { RaftWal } from '../../src/raft/wal.js';
import { checkHistory, type Op } from './linearizability.js';
import { plant, setEarlySender, type Mutation } from './mutations.js';
import { SimDisk, type DiskFaults } from '../../src/raft/sim-disk.js';
import { ProcessClock } from '../../src/raft/testing.js';

export interface NodeSimOptions {
  seed: number;
  steps: number;
  nodes: number;
  /** A planted bug (mutations.ts). */
  mutation?: Mutation;
}

/** The RaftNode parts the checks look into (its core) or wrap (its WAL's appends, its installs). */
interface NodeGuts {
  raft: Raft | undefined;
  wal: RaftWal;
  installSnapshot(s: SnapshotMeta & { data?: Uint8Array }): Promise<void>;
}
const guts = (n: RaftNode): NodeGuts => n as unknown as NodeGuts;
const persistedIndex = (r: Raft): number => (r as unknown as { persistedIndex: number }).persistedIndex;

/** What a member's disk holds once synced: a snapshot boundary and the terms of the entries after it. */
interface DurableLog {
  snapIndex: number;
  snapTerm: number;
  terms: number[];
}
const emptyLog = (): DurableLog => ({ snapIndex: 0, snapTerm: 0, terms: [] });
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

export interface NodeSimResult {
  ok: boolean;
  error?: string;
  stats: Record<string, number>;
}

const TICK_MS = 10;
/** Steps of one seed (ticks of faults and client operations before everything heals). */
export const NODE_STEPS = 1000;
/** The group size a seed starts with when none is given: 3, 5 and 7 in turn. */
export const nodesFor = (seed: number): number => [3, 5, 7][seed % 3]!;
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Cmd {
  key: string;
  value: string;
  token: string;
}

/** The key-value register each member applies; it reports to the simulation's checks. */
export class KvMachine implements StateMachine {
  kv = new Map<string, string>();
  applied = 0;

  constructor(
    private readonly onApply: (index: number, data: Uint8Array) => void,
    private readonly onRestore: (index: number, kv: Map<string, string>) => void,
    private readonly onApplied: (index: number) => void = () => undefined,
  ) {}

  apply(index: number, data: Uint8Array): void {
    const cmd = JSON.parse(dec.decode(data)) as Cmd;
    this.onApply(index, data);
    this.applied = index;
    this.kv.set(cmd.key, cmd.value);
    this.onApplied(index);
  }

  snapshot(): AsyncIterable<Uint8Array> {
    const data = enc.encode(JSON.stringify([...this.kv]));
    return (async function* () {
      yield data;
    })();
  }

  async restore(index: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    let s = '';
    for await (const c of chunks) s += dec.decode(c);
    this.kv = new Map(JSON.parse(s) as [string, string][]);
    this.applied = index;
    this.onRestore(index, this.kv);
  }
}

type MemberState = 'up' | 'starting' | 'down' | 'retired';

interface Member {
  id: string;
  disk: SimDisk;
  state: MemberState;
  node: RaftNode | undefined;
  clock: ProcessClock | undefined;
  sm: KvMachine | undefined;
  handler: ((m: Message) => void) | undefined;
  downSince: number;
  /** Stopped by a storage error: its supervisor restarts it after a while. */
  fatal: boolean;
  /** A bit was flipped on its disk while it was down: it must refuse to start. */
  flipped: boolean;
  /** Was ever in the group's membership (so leaving it means it was removed). */
  joined: boolean;
  /** What its WAL and snapshots hold on the platter (as far as its fsyncs said). */
  durable: DurableLog;
}

interface HistoryEntry {
  op: Op & { ret: number; value: string };
  failed: boolean;
  acked: boolean;
  token: string;
}

/** An entry as first applied anywhere, and the highest leader term seen by then. */
interface Committed {
  term: number;
  data: string;
  by: number;
}

export class NodeSimulation {
  private readonly rng: SeededRandom;
  private readonly clock = new VirtualClock(0);
  private members: Member[] = [];
  private cut = new Set<string>();
  private history: HistoryEntry[] = [];
  private leadersByTerm = new Map<number, string>();
  private maxLeaderTerm = 0;
  /** The highest commit index any member has been seen with. */
  private maxCommit = 0;
  /** Per leader: its term, commit index and voters when last checked. */
  private leaderCommit = new Map<string, { term: number; commit: number; voters: string }>();
  private appliedGlobal = new Map<number, Committed>();
  /** Normal entries' indexes in order, and the committed key-value state after each (serialized). */
  private stateIndexes: number[] = [];
  private states: Map<string, string>[] = [];
  private stateNow = new Map<string, string>();
  /** "index:term" -> "previous term:type:data" of every entry persisted anywhere. */
  private persistedGlobal = new Map<string, string>();
  private violation: string | undefined;
  private nextId: number;
  private now = 0;
  private faultsOn = true;
  private readonly founders: string[];
  private readonly stats = {
    steps: 0,
    messages: 0,
    commits: 0,
    leaders: 0,
    kills: 0,
    powerLosses: 0,
    fatalStops: 0,
    restarts: 0,
    refusedFlips: 0,
    lostDisks: 0,
    confChanges: 0,
    pauses: 0,
    ops: 0,
    acked: 0,
    reads: 0,
    restores: 0,
  };
  private readonly dropRate: number;
  private readonly dupRate: number;
  private readonly maxDelay: number;
  private readonly crashRate: number;
  private readonly partitionRate: number;
  private readonly confRate: number;
  private readonly lostDiskRate: number;
  private readonly pauseRate: number;
  private readonly flipRate: number;
  private readonly faults: DiskFaults;
  private readonly snapshotInterval: number;
  private readonly keepEntries: number;

  constructor(private readonly o: NodeSimOptions) {
    this.rng = new SeededRandom(o.seed);
    const storm = this.rng.next() < 0.3 ? 4 : 1;
    this.dropRate = this.rng.next() * 0.1;
    this.dupRate = this.rng.next() * 0.05;
    this.maxDelay = 1 + this.rng.int(storm > 1 ? 12 : 4);
    this.crashRate = this.rng.next() * 0.004 * storm;
    this.partitionRate = this.rng.next() * 0.01 * storm;
    this.confRate = this.rng.next() < 0.4 ? this.rng.next() * 0.01 : 0;
    this.lostDiskRate = this.rng.next() < 0.3 ? this.rng.next() * 0.004 : 0;
    this.pauseRate = this.rng.next() < 0.4 ? this.rng.next() * 0.01 : 0;
    this.flipRate = this.rng.next() < 0.3 ? 0.3 : 0;
    const diskFaults = this.rng.next() < 0.5;
    this.faults = {
      writeEio: diskFaults ? this.rng.next() * 0.002 * storm : 0,
      writeEnospc: diskFaults ? this.rng.next() * 0.002 * storm : 0,
      fsyncEio: diskFaults ? this.rng.next() * 0.003 * storm : 0,
      lyingFsync: o.mutation === 'lying-fsync' ? 0.5 : 0,
      maxSyncTicks: this.rng.next() < 0.3 ? 2 + this.rng.int(4) : this.rng.int(2),
    };
    this.snapshotInterval = this.rng.next() < 0.25 ? 1_000_000 : 5 + this.rng.int(40);
    this.keepEntries = this.rng.int(10);
    this.founders = Array.from({ length: o.nodes }, (_, i) => `m${i + 1}`);
    this.nextId = o.nodes + 1;
    for (const id of this.founders) this.members.push(this.newMember(id, true));
  }

  async run(): Promise<NodeSimResult> {
    const undo = this.o.mutation === undefined ? () => undefined : plant(this.o.mutation);
    setEarlySender((raft, msgs) => {
      const from = this.members.find((x) => x.node && guts(x.node).raft === raft);
      if (from?.clock && !from.clock.dead) this.send(msgs);
    });
    try {
      for (const m of this.members) this.start(m);
      for (let step = 0; step < this.o.steps; step++) await this.step(true);
      await this.finish();
      return { ok: true, stats: this.statsOut() };
    } catch (e) {
      return { ok: false, error: (e as Error).message, stats: this.statsOut() };
    } finally {
      for (const m of this.members) this.kill(m);
      setEarlySender(undefined);
      undo();
    }
  }

  private statsOut(): Record<string, number> {
    const struck: Record<string, number> = {};
    for (const m of this.members) for (const [k, v] of Object.entries(m.disk.struck)) struck[k] = (struck[k] ?? 0) + v;
    return { ...this.stats, ...struck };
  }

  private newMember(id: string, joined: boolean): Member {
    return {
      id,
      disk: new SimDisk(new SeededRandom(this.rng.int(2 ** 31)), this.clock, TICK_MS, this.faults),
      state: 'down',
      node: undefined,
      clock: undefined,
      sm: undefined,
      handler: undefined,
      downSince: 0,
      fatal: false,
      flipped: false,
      joined,
      durable: emptyLog(),
    };
  }

  private fail(why: string): void {
    this.violation ??= why;
  }

  /** Starts the member's process on its disk; a start that fails is a violation unless a bit was flipped. */
  private start(m: Member): void {
    const clock = new ProcessClock(this.clock);
    const sm = new KvMachine(
      (index, data) => this.onApply(m, index, data),
      (index, kv) => this.onRestore(m, index, kv),
      (index) => this.onApplied(m, index),
    );
    const transport: Transport = {
      send: (msgs) => {
        if (m.clock !== clock || clock.dead) return;
        this.checkSafety();
        this.send(msgs);
      },
      onMessage: (h) => {
        if (m.clock === clock) m.handler = h;
      },
    };
    const node = new RaftNode({
      id: m.id,
      voters: this.founders,
      dir: `/${m.id}`,
      tickMs: TICK_MS,
      electionTick: () => 10,
      heartbeatTick: () => 1,
      snapshotInterval: () => this.snapshotInterval,
      keepEntries: () => this.keepEntries,
      snapshotPartBytes: 64,
      sm,
      cipher: plainCipher,
      random: new SeededRandom(this.rng.int(2 ** 31)),
      logger: silentLogger,
      transport,
      fs: m.disk.fs(() => clock.pausedUntil),
      clock,
      stopTimeoutMs: 1000,
      onFatal: () => {
        if (m.clock !== clock) return;
        this.stats.fatalStops++;
        this.kill(m);
        m.fatal = true;
      },
    });
    this.watch(m, node, clock);
    m.state = 'starting';
    m.node = node;
    m.clock = clock;
    m.sm = sm;
    m.handler = undefined;
    m.fatal = false;
    const flipped = m.flipped;
    node.start().then(
      () => {
        if (m.clock !== clock) return;
        if (flipped) this.fail(`${m.id} started over a WAL with a flipped bit`);
        m.state = 'up';
        // What it read back is durable (the WAL syncs it at open): its synced log from here on.
        const r = guts(node).raft!;
        const { index, term } = r.log.compactedTo;
        const upTo = Math.min(persistedIndex(r), r.log.lastIndex);
        m.durable = { snapIndex: index, snapTerm: term, terms: r.log.slice(index + 1, upTo).map((e) => e.term) };
      },
      (e: unknown) => {
        if (m.clock !== clock) return;
        this.kill(m);
        const msg = String(e);
        if (flipped && /corrupt|authentication/.test(msg)) {
          // Expected: refused. The operator replaces the member (its disk is as good as lost).
          this.stats.refusedFlips++;
          m.flipped = false;
          this.retire(m);
        } else if (/EIO|ENOSPC/.test(msg)) {
          m.fatal = true; // the disk failed during start: the supervisor tries again later
        } else this.fail(`${m.id} refused to start: ${msg}`);
      },
    );
  }

  /**
   * Wraps the node's WAL appends and snapshot installs: log matching is checked on what is about to
   * be written, and the member's synced log follows what its fsyncs confirmed.
   */
  private watch(m: Member, node: RaftNode, clock: ProcessClock): void {
    const g = guts(node);
    const append = g.wal.append.bind(g.wal);
    let step = -1;
    let readies = 0;
    g.wal.append = async (hs: HardState | undefined, entries: readonly Entry[]): Promise<boolean> => {
      if (m.clock !== clock) return never(); // it died: its loop stops here
      // A Ready loop that never runs dry spins in microtasks and would hang the simulation.
      if (step !== this.now) [step, readies] = [this.now, 0];
      if (++readies > 10_000) {
        this.fail(`livelock: ${m.id} handed out more than 10000 Readies in one tick`);
        this.kill(m);
        return never();
      }
      if (g.raft) this.checkPersisting(m, g.raft, entries);
      const wrote = await append(hs, entries);
      if (m.clock === clock) this.synced(m.durable, entries);
      return wrote;
    };
    const install = g.installSnapshot.bind(node);
    g.installSnapshot = async (s) => {
      await install(s);
      if (m.clock === clock) m.durable = { snapIndex: s.index, snapTerm: s.term, terms: [] };
    };
  }

  private synced(d: DurableLog, entries: readonly Entry[]): void {
    const first = entries[0]?.index;
    if (first === undefined) return;
    d.terms.length = Math.min(d.terms.length, Math.max(0, first - d.snapIndex - 1));
    for (const e of entries) if (e.index > d.snapIndex) d.terms[e.index - d.snapIndex - 1] = e.term;
  }

  /** Whether a member's synced disk holds the entry (index, term), itself or under its snapshot. */
  private onDisk(m: Member, index: number, term: number): boolean {
    const d = m.durable;
    if (index <= d.snapIndex) return index < d.snapIndex || d.snapTerm === term;
    return d.terms[index - d.snapIndex - 1] === term;
  }

  /**
   * Log matching, incrementally: an entry persisted anywhere at (index, term) must carry the same
   * data and follow an entry of the same term as every other entry ever persisted at (index, term).
   */
  private checkPersisting(m: Member, r: Raft, entries: readonly Entry[]): void {
    for (const e of entries) {
      const prevTerm = e.index === 1 ? 0 : (r.log.termAt(e.index - 1) ?? -1);
      const sig = `${prevTerm}:${e.type}:${dec.decode(e.data)}`;
      const k = `${e.index}:${e.term}`;
      const seen = this.persistedGlobal.get(k);
      if (seen === undefined) this.persistedGlobal.set(k, sig);
      else if (seen !== sig && prevTerm !== -1 && !seen.startsWith('-1:'))
        this.fail(`log matching: ${m.id} persists ${k} as ${sig}, elsewhere it is ${seen}`);
    }
  }

  /** The process dies (its timers, messages and disk operations with it). */
  private kill(m: Member): void {
    if (m.clock) m.clock.kill();
    m.clock = undefined;
    m.node = undefined;
    m.handler = undefined;
    if (m.state !== 'retired') m.state = 'down';
    m.downSince = this.now;
    m.disk.crash(false);
    // Its client operations in flight have unknown outcomes (their promises never settle).
  }

  private crash(m: Member): void {
    const powerLoss = this.rng.next() < 0.5;
    this.kill(m);
    if (powerLoss) {
      m.disk.crash(true);
      this.stats.powerLosses++;
      // Only where the group can lose this member (it will refuse to start and be replaced).
      if (this.rng.next() < this.flipRate && this.canLose(m) && m.disk.flipBit(`/${m.id}/wal`)) m.flipped = true;
    } else this.stats.kills++;
  }

  /** Whether the group keeps a quorum without `m`, with no other member already lost or about to be. */
  private canLose(m: Member): boolean {
    const l = this.leaderMember();
    if (!l || l === m) return false;
    const { voters, learners } = l.node!.members();
    const group = new Set([...voters, ...learners]);
    const lost = this.members.filter((x) => x.flipped || (x.state === 'retired' && group.has(x.id)));
    return voters.length >= 4 && learners.length === 0 && lost.length === 0;
  }

  private retire(m: Member): void {
    this.kill(m);
    m.state = 'retired';
  }

  private live(): Member[] {
    return this.members.filter((x) => x.state === 'up' && x.node);
  }

  private leaderMember(): Member | undefined {
    return this.live().find((x) => x.node!.isLeader);
  }

  private async step(faults: boolean): Promise<void> {
    this.faultsOn = faults;
    this.now++;
    this.stats.steps++;
    if (faults) this.injectFaults();
    if (this.rng.next() < 0.3) this.clientOp();
    this.clock.advance(TICK_MS);
    await this.settle();
    this.checkInvariants();
    if (this.violation) throw new Error(this.violation);
  }

  /** Lets every promise chain and setImmediate the step started run to quiescence. */
  private async settle(): Promise<void> {
    let quiet = 0;
    let last = -1;
    for (let i = 0; i < 200 && quiet < 2; i++) {
      await new Promise<void>((r) => setImmediate(r));
      const ops = this.members.reduce((n, m) => n + m.disk.ops, 0) + this.stats.messages;
      quiet = ops === last ? quiet + 1 : 0;
      last = ops;
    }
  }

  private injectFaults(): void {
    for (const m of this.members) {
      if (m.state === 'retired') continue;
      if (m.state === 'up' && this.rng.next() < this.crashRate) this.crash(m);
      else if (m.state === 'down' && !m.fatal && this.rng.next() < 0.05) {
        this.stats.restarts++;
        this.start(m);
      } else if (m.state === 'down' && m.fatal && this.now - m.downSince > 20) {
        this.stats.restarts++;
        this.start(m); // the supervisor
      }
    }
    if (this.rng.next() < this.partitionRate) {
      this.cut.clear();
      const kind = this.rng.int(3);
      const ids = this.members.map((m) => m.id);
      if (kind === 0) {
        const side = new Set(ids.filter(() => this.rng.next() < 0.5));
        for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}->${b}`);
      } else if (kind === 1) {
        for (const a of ids) for (const b of ids) if (a !== b && this.rng.next() < 0.2) this.cut.add(`${a}->${b}`);
      }
    }
    if (this.rng.next() < this.confRate) this.changeMembership();
    if (this.rng.next() < this.lostDiskRate) this.loseDisk();
    for (const m of this.live()) {
      if (m.clock!.pausedUntil <= this.clock.now() && this.rng.next() < this.pauseRate) {
        m.clock!.pausedUntil = this.clock.now() + (5 + this.rng.int(30)) * TICK_MS;
        this.stats.pauses++;
      }
    }
  }

  private paused(m: Member): boolean {
    return (m.clock?.pausedUntil ?? 0) > this.clock.now();
  }

  private propose(l: Member, cc: ConfChange): void {
    this.stats.confChanges++;
    l.node!.changeMembership(cc).catch(() => undefined); // one change at a time: refused ones are retried later
  }

  private changeMembership(): void {
    const l = this.leaderMember();
    if (!l) return;
    const { voters, learners } = l.node!.members();
    const learner = learners[0];
    const choice = this.rng.int(4);
    if (choice === 0 && learner === undefined && voters.length < 7) {
      const m = this.newMember(`m${this.nextId++}`, false);
      this.members.push(m);
      this.start(m);
      this.propose(l, { kind: 'addLearner', member: m.id });
    } else if (choice === 1 && learner !== undefined) {
      this.propose(l, { kind: 'add', member: learner });
    } else if (choice === 2 && voters.length > 3) {
      this.propose(l, { kind: 'remove', member: voters[this.rng.int(voters.length)]! });
    } else if (choice === 3 && voters.length > 1) {
      l.node!.transferLeadership(voters[this.rng.int(voters.length)]!);
    }
  }

  /** A member's disk is gone: the operator removes it; new members join later under new IDs. */
  private loseDisk(): void {
    const l = this.leaderMember();
    if (!l) return;
    const { voters, learners } = l.node!.members();
    const victims = voters.filter((id) => id !== l.id);
    if (victims.length < 3 || learners.length > 0) return;
    const id = victims[this.rng.int(victims.length)];
    const v = this.members.find((m) => m.id === id)!;
    if (!this.canLose(v)) return;
    // Its synced log stays as it was: the leader counts what this disk acknowledged until the member
    // is removed, and the group was chosen to survive losing it.
    v.disk.wipe();
    this.retire(v);
    this.propose(l, { kind: 'remove', member: v.id });
    this.stats.lostDisks++;
  }

  private clientOp(): void {
    const live = this.live().filter((x) => !this.paused(x) && x.node!.isLeader);
    if (live.length === 0) return;
    const m = live[this.rng.int(live.length)]!;
    const node = m.node!;
    const key = `k${this.rng.int(3)}`;
    const call = this.now;
    if (this.rng.next() < 0.6) {
      const token = `${this.o.seed}-${this.history.length}`;
      const value = `v${this.history.length}`;
      const h: HistoryEntry = {
        op: { key, kind: 'put', value, call, ret: Infinity },
        failed: false,
        acked: false,
        token,
      };
      this.history.push(h);
      this.stats.ops++;
      node.propose(enc.encode(JSON.stringify({ key, value, token }))).then(
        () => {
          h.op.ret = this.now;
          h.acked = true;
          this.stats.acked++;
        },
        (e: unknown) => {
          // Refused, or its index went to another leader's entry: it never takes effect. Anything
          // else (leadership lost, the node stopped) leaves the outcome unknown until the end.
          if (e instanceof NotLeaderError) h.failed = true;
        },
      );
    } else {
      const h: HistoryEntry = {
        op: { key, kind: 'get', value: '', call, ret: Infinity },
        failed: true, // until it returns: a read that never returns has no effect to check
        acked: false,
        token: '',
      };
      this.history.push(h);
      this.stats.ops++;
      const sm = m.sm!;
      // Everything committed anywhere before the read is asked must show in what it returns.
      const floor = this.commitFloor();
      node.readBarrier(20 * TICK_MS).then(
        () => {
          if (m.sm !== sm) return;
          const applied = node.progressIndex.applied;
          if (applied < floor)
            this.fail(`read on ${m.id} served at index ${applied}, below ${floor} committed before it was asked`);
          h.op.value = sm.kv.get(key) ?? '';
          h.op.ret = this.now;
          h.failed = false;
          this.stats.reads++;
        },
        () => undefined,
      );
    }
  }

  private send(msgs: readonly Message[]): void {
    for (const msg of msgs) {
      this.stats.messages++;
      if (this.cut.has(`${msg.from}->${msg.to}`) || this.rng.next() < this.dropRate) continue;
      const copies = this.rng.next() < this.dupRate ? 2 : 1;
      for (let i = 0; i < copies; i++) this.deliverLater(msg, (1 + this.rng.int(this.maxDelay)) * TICK_MS);
    }
  }

  private deliverLater(msg: Message, delay: number): void {
    this.clock.setTimer(delay, () => {
      const to = this.members.find((m) => m.id === msg.to);
      if (!to?.handler || this.cut.has(`${msg.from}->${msg.to}`)) return;
      if (this.paused(to)) {
        this.deliverLater(msg, to.clock!.pausedUntil - this.clock.now()); // waits in the socket buffer
        return;
      }
      to.handler(msg);
      this.checkSafety();
    });
  }

  private commitFloor(): number {
    for (const m of this.members) {
      const r = m.node && guts(m.node).raft;
      if (r) this.maxCommit = Math.max(this.maxCommit, r.commit);
    }
    return this.maxCommit;
  }

  private onApply(m: Member, index: number, data: Uint8Array): void {
    if (m.sm && index <= m.sm.applied) this.fail(`${m.id} applied index ${index} after ${m.sm.applied}`);
    const sig = dec.decode(data);
    const term = (m.node && guts(m.node).raft?.log.termAt(index)) ?? -1;
    const seen = this.appliedGlobal.get(index);
    if (seen === undefined) {
      this.appliedGlobal.set(index, { term, data: sig, by: this.maxLeaderTerm });
      this.stats.commits++;
      if (index <= (this.stateIndexes.at(-1) ?? 0))
        this.fail(`index ${index} first applied after ${this.stateIndexes.at(-1)}: the committed log has a gap`);
      const cmd = JSON.parse(sig) as Cmd;
      this.stateNow.set(cmd.key, cmd.value);
      this.stateIndexes.push(index);
      this.states.push(new Map(this.stateNow));
    } else if (seen.data !== sig || (term !== -1 && seen.term !== term))
      this.fail(
        `state machine safety: index ${index} applied as ${seen.term}:${seen.data} and as ${term}:${sig} (on ${m.id})`,
      );
  }

  /** State equality: a member that applied `index` holds the committed state there. */
  private onApplied(m: Member, index: number): void {
    if (m.sm && !sameKv(m.sm.kv, this.stateAt(index)))
      this.fail(`${m.id} at index ${index} holds another state than the committed log gives`);
  }

  /** A restored snapshot must hold exactly the committed state at its index. */
  private onRestore(m: Member, index: number, kv: Map<string, string>): void {
    this.stats.restores++;
    if (!sameKv(kv, this.stateAt(index)))
      this.fail(`${m.id} restored a snapshot at ${index} that differs from the committed state there`);
  }

  /** The committed key-value state after index. */
  private stateAt(index: number): Map<string, string> {
    // The last normal entry at or before index.
    let lo = 0;
    let hi = this.stateIndexes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.stateIndexes[mid]! <= index) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? new Map() : this.states[lo - 1]!;
  }

  /**
   * The checks that run after every event: election safety, leader completeness, and a leader's new
   * commit point (of its own term, on a majority's synced disks).
   */
  private checkSafety(): void {
    for (const m of this.members) {
      const r = m.node && guts(m.node).raft;
      if (!r) continue;
      if (r.commit > this.maxCommit) this.maxCommit = r.commit;
      if (r.role !== 'leader') continue;
      const seen = this.leaderCommit.get(m.id);
      if (seen && seen.term === r.term && seen.commit === r.commit) continue; // checked as it is
      const voters = [...r.voters].join();
      const advanced = seen !== undefined && seen.term === r.term && r.commit > seen.commit;
      if (advanced) {
        const term = r.log.termAt(r.commit);
        // Raft §5.4.2 (Figure 8): a leader commits only entries of its own term by counting.
        if (term !== r.term) this.fail(`${m.id} (term ${r.term}) committed ${r.commit} of term ${term} by counting`);
        // What "committed" means, checked directly: on the disks of a majority of its voters (counted
        // with the voters of the moment, so an event in which they changed is skipped).
        else if (seen.voters === voters) {
          let holders = 0;
          for (const id of r.voters) {
            const v = this.members.find((x) => x.id === id);
            if (v && this.onDisk(v, r.commit, term)) holders++;
          }
          if (holders < Math.floor(r.voters.size / 2) + 1)
            this.fail(
              `durability: ${m.id} commits ${r.commit} (term ${term}), which only ${holders} of ${r.voters.size} voters hold on disk`,
            );
        }
      }
      this.leaderCommit.set(m.id, { term: r.term, commit: r.commit, voters });
      const prev = this.leadersByTerm.get(r.term);
      if (prev === undefined) {
        this.leadersByTerm.set(r.term, m.id);
        this.maxLeaderTerm = Math.max(this.maxLeaderTerm, r.term);
        this.stats.leaders++;
        // Leader completeness: a new leader holds every entry committed in an earlier term.
        const compacted = r.log.compactedTo.index;
        for (const [index, c] of this.appliedGlobal) {
          if (index <= compacted || c.by >= r.term) continue; // a snapshot is checked when restored
          const e = r.log.entry(index);
          if (!e || e.term !== c.term || dec.decode(e.data) !== c.data)
            this.fail(`leader completeness: ${m.id} leads term ${r.term} without committed entry ${index}`);
        }
      } else if (prev !== m.id) this.fail(`election safety: ${prev} and ${m.id} both lead term ${r.term}`);
    }
  }

  /** After every step: the checks above, and removed members leave. */
  private checkInvariants(): void {
    this.checkSafety();
    // Members the leader no longer counts were removed: they stop (a removed manager leaves). The
    // operator removes members that were replaced (lost disk, refused to start) and are still in.
    const l = this.leaderMember();
    if (l) {
      const { voters, learners } = l.node!.members();
      const inGroup = new Set([...voters, ...learners]);
      for (const m of this.members) {
        if (inGroup.has(m.id)) m.joined = true;
        else if (m.joined && m.state !== 'retired') this.retire(m);
      }
      const gone = this.members.find((m) => m.state === 'retired' && inGroup.has(m.id));
      if (gone && this.now % 10 === 0)
        l.node!.changeMembership({ kind: 'remove', member: gone.id }).catch(() => undefined);
    }
  }

  private async finish(): Promise<void> {
    this.cut.clear();
    for (const m of this.members) if (m.state === 'down') this.start(m);
    const marker = `final-${this.o.seed}`;
    const proposedIn = new Set<number>();
    let committed = false;
    for (let i = 0; i < 3000 && !committed; i++) {
      await this.step(false);
      for (const m of this.members) if (m.state === 'down') this.start(m);
      const l = this.leaderMember();
      if (!l) continue;
      const { voters, learners } = l.node!.members();
      const term = l.node!.debugState().term;
      if (!proposedIn.has(term)) {
        proposedIn.add(term);
        // Refused (a leadership transfer under way, say): proposed again while this term lasts.
        l.node!.propose(enc.encode(JSON.stringify({ key: 'final', value: marker, token: marker }))).catch(() =>
          proposedIn.delete(term),
        );
      }
      const group = [...voters, ...learners].map((id) => this.members.find((m) => m.id === id));
      committed = group.every((m) => m?.state === 'up' && m.sm?.kv.get('final') === marker);
    }
    if (!committed)
      throw new Error(
        `liveness: no write committed on every member within 3000 ticks after healing (${this.members
          .map((m) => {
            const d = m.node?.debugState();
            return `${m.id} ${m.state}${d ? ` ${d.role} t${d.term} c${d.commit} a${d.applied} l${d.last}` : ''}`;
          })
          .join('; ')})`,
      );
    const applied = new Set([...this.appliedGlobal.values()].map((c) => (JSON.parse(c.data) as Cmd).token));
    for (const h of this.history) {
      if (h.op.kind !== 'put') continue;
      if (h.acked && !applied.has(h.token)) throw new Error(`acknowledged write ${h.token} was lost`);
      // Everything has committed: a write that never took effect failed (its index went to another
      // leader's entry, or it never reached a quorum); it is not an unknown that may still happen.
      if (!applied.has(h.token)) h.failed = true;
    }
    for (const m of this.live()) {
      if (!sameKv(m.sm!.kv, this.stateAt(m.sm!.applied)))
        throw new Error(`${m.id} holds another state than the committed log gives`);
    }
    const lin = checkHistory(this.history.filter((h) => !h.failed).map((h) => h.op));
    if (!lin.ok) throw new Error(`linearizability: key ${lin.key}: ${lin.reason}`);
  }
}

function sameKv(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

export function nodeReplayCommand(o: NodeSimOptions): string {
  return `npm run sim -- --seed ${o.seed} --steps ${o.steps} --nodes ${o.nodes}${o.mutation ? ` --mutation ${o.mutation}` : ''}`;
}
