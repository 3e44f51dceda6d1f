/**
 * Deterministic simulation of whole RaftNodes (src/raft/node.ts: its Ready loop, WAL, snapshot
 * files, snapshot streaming, proposal and read bookkeeping), each on a simulated disk (sim-fs.ts)
 * and all on one virtual clock and one simulated network, driven by one seed.
 *
 * Faults drawn per seed: message delay (past an election timeout), loss, duplication, partitions and
 * one-way links; processes killed or losing power (unsynced data lost, torn or zero-filled tails);
 * EIO and ENOSPC on writes and fsyncs (the node must stop with RaftFatalError; its supervisor
 * restarts it from disk); a flipped bit in a synced WAL record (the node must refuse to start; the
 * operator replaces it); lost disks (the member is removed and a new one joins empty under a new
 * ID); paused processes; membership changes (add a learner, promote, remove a follower or the
 * leader, transfer leadership). A client writes and reads a key-value register through the nodes'
 * public API (propose, readBarrier).
 *
 * Checked after every step: election safety, state machine safety (one entry per index across all
 * members), every snapshot restored equals the committed state at its index, a node starts over
 * any disk the faults above can leave except a flipped bit. At the end everything heals, a write
 * must commit on every member, no acknowledged write may be lost, and the client history must be
 * linearizable (a read through readBarrier sees every write acknowledged before it).
 */
import { VirtualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logging.js';
import { SeededRandom } from '../../src/common/random.js';
import { plainCipher } from '../../src/raft/cipher.js';
import { RaftNode, type StateMachine, type Transport } from '../../src/raft/node.js';
import { NotLeaderError, type ConfChange, type Message } from '../../src/raft/types.js';
import { RaftWal } from '../../src/raft/wal.js';
import { checkHistory, type Op } from './linearizability.js';
import { isMutation, plant, type Mutation } from './mutations.js';
import { SimDisk, type DiskFaults } from '../../src/raft/sim-disk.js';
import { ProcessClock } from '../../src/raft/testing.js';

/** Bugs a node-level sweep must catch (planted in RaftNode/RaftWal or the simulated disk). */
export const NODE_MUTATIONS = ['continue-after-fsync-error', 'lying-fsync'] as const;
export type NodeMutation = (typeof NODE_MUTATIONS)[number];
export const isNodeMutation = (s: string): s is NodeMutation => (NODE_MUTATIONS as readonly string[]).includes(s);

export interface NodeSimOptions {
  seed: number;
  steps: number;
  nodes: number;
  /** A planted bug: in the core (mutations.ts) or in the node and its disk (NODE_MUTATIONS). */
  mutation?: NodeMutation | Mutation;
}

export interface NodeSimResult {
  ok: boolean;
  error?: string;
  stats: Record<string, number>;
}

const TICK_MS = 10;
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
    private readonly onApply: (index: number, cmd: Cmd) => void,
    private readonly onRestore: (index: number, kv: Map<string, string>) => void,
  ) {}

  apply(index: number, data: Uint8Array): void {
    const cmd = JSON.parse(dec.decode(data)) as Cmd;
    this.onApply(index, cmd);
    this.applied = index;
    this.kv.set(cmd.key, cmd.value);
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
}

interface HistoryEntry {
  op: Op & { ret: number; value: string };
  failed: boolean;
  acked: boolean;
  token: string;
}

export class NodeSimulation {
  private readonly rng: SeededRandom;
  private readonly clock = new VirtualClock(0);
  private members: Member[] = [];
  private cut = new Set<string>();
  private history: HistoryEntry[] = [];
  private leadersByTerm = new Map<number, string>();
  private appliedGlobal = new Map<number, string>();
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
    const m = this.o.mutation;
    const undo =
      m === undefined
        ? () => undefined
        : isNodeMutation(m)
          ? plantNodeMutation(m)
          : isMutation(m)
            ? plant(m)
            : () => undefined;
    try {
      for (const m of this.members) this.start(m);
      for (let step = 0; step < this.o.steps; step++) await this.step(true);
      await this.finish();
      return { ok: true, stats: this.statsOut() };
    } catch (e) {
      return { ok: false, error: (e as Error).message, stats: this.statsOut() };
    } finally {
      for (const m of this.members) this.kill(m);
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
    };
  }

  private fail(why: string): void {
    this.violation ??= why;
  }

  /** Starts the member's process on its disk; a start that fails is a violation unless a bit was flipped. */
  private start(m: Member): void {
    const clock = new ProcessClock(this.clock);
    const sm = new KvMachine(
      (index, cmd) => this.onApply(m, index, cmd),
      (index, kv) => this.onRestore(m, index, kv),
    );
    const transport: Transport = {
      send: (msgs) => {
        if (m.clock === clock && !clock.dead) this.send(msgs);
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
      fs: m.disk.fs(),
      clock,
      stopTimeoutMs: 1000,
      onFatal: () => {
        if (m.clock !== clock) return;
        this.stats.fatalStops++;
        this.kill(m);
        m.fatal = true;
      },
    });
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
          // else (leadership lost, the node stopped) leaves the outcome unknown.
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
      node.readBarrier(20 * TICK_MS).then(
        () => {
          if (m.sm !== sm) return;
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
    });
  }

  private onApply(m: Member, index: number, cmd: Cmd): void {
    if (m.sm && index <= m.sm.applied) this.fail(`${m.id} applied index ${index} after ${m.sm.applied}`);
    const sig = JSON.stringify(cmd);
    const seen = this.appliedGlobal.get(index);
    if (seen === undefined) {
      this.appliedGlobal.set(index, sig);
      this.stats.commits++;
    } else if (seen !== sig)
      this.fail(`state machine safety: index ${index} applied as ${seen} and as ${sig} (on ${m.id})`);
  }

  /** A restored snapshot must hold exactly the committed state at its index. */
  private onRestore(m: Member, index: number, kv: Map<string, string>): void {
    this.stats.restores++;
    const want = this.stateAt(index);
    if (want.size !== kv.size || [...want].some(([k, v]) => kv.get(k) !== v))
      this.fail(`${m.id} restored a snapshot at ${index} that differs from the committed state there`);
  }

  private stateAt(index: number): Map<string, string> {
    const kv = new Map<string, string>();
    const idx = [...this.appliedGlobal.keys()].filter((i) => i <= index).sort((a, b) => a - b);
    for (const i of idx) {
      const cmd = JSON.parse(this.appliedGlobal.get(i)!) as Cmd;
      kv.set(cmd.key, cmd.value);
    }
    return kv;
  }

  private checkInvariants(): void {
    for (const m of this.live()) {
      const n = m.node!;
      if (n.isLeader) {
        const term = n.debugState().term;
        const prev = this.leadersByTerm.get(term);
        if (prev === undefined) {
          this.leadersByTerm.set(term, m.id);
          this.stats.leaders++;
        } else if (prev !== m.id) this.fail(`election safety: ${prev} and ${m.id} both lead term ${term}`);
      }
    }
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
        l.node!.propose(enc.encode(JSON.stringify({ key: 'final', value: marker, token: marker }))).catch(
          () => undefined,
        );
      }
      const group = [...voters, ...learners].map((id) => this.members.find((m) => m.id === id));
      committed = group.every((m) => m?.state === 'up' && m.sm?.kv.get('final') === marker);
    }
    if (!committed) throw new Error('liveness: no write committed on every member within 3000 ticks after healing');
    const applied = new Set([...this.appliedGlobal.values()].map((s) => (JSON.parse(s) as Cmd).token));
    for (const h of this.history)
      if (h.op.kind === 'put' && h.acked && !applied.has(h.token))
        throw new Error(`acknowledged write ${h.token} was lost`);
    for (const m of this.live()) {
      const want = this.stateAt(m.node!.progressIndex.applied);
      const kv = m.sm!.kv;
      if (want.size !== kv.size || [...want].some(([k, v]) => kv.get(k) !== v))
        throw new Error(`${m.id} holds another state than the committed log gives`);
    }
    const lin = checkHistory(this.history.filter((h) => !h.failed).map((h) => h.op));
    if (!lin.ok) throw new Error(`linearizability: key ${lin.key}: ${lin.reason}`);
  }
}

/** The private parts a planted wrapper bug replaces. */
interface NodeInternals {
  fail(e: unknown): void;
}
interface WalInternals {
  fh: { datasync(): Promise<void> } | undefined;
  guarded(fn: (fh: unknown) => Promise<void>): Promise<void>;
}

/**
 * 'continue-after-fsync-error' restores the old RaftNode: a failed write is logged and processing
 * carries on with the next Ready (and the WAL keeps appending behind the failed record).
 */
function plantNodeMutation(m: NodeMutation): () => void {
  if (m !== 'continue-after-fsync-error') return () => undefined;
  const nodeProto = RaftNode.prototype as unknown as NodeInternals;
  const walProto = RaftWal.prototype as unknown as WalInternals;
  const fail = nodeProto.fail;
  const guarded = walProto.guarded;
  nodeProto.fail = () => undefined;
  walProto.guarded = async function (this: WalInternals, fn) {
    await fn(this.fh);
  };
  return () => {
    nodeProto.fail = fail;
    walProto.guarded = guarded;
  };
}

export function nodeReplayCommand(o: NodeSimOptions): string {
  return `npm run sim -- --node --seed ${o.seed} --steps ${o.steps} --nodes ${o.nodes}${o.mutation ? ` --mutation ${o.mutation}` : ''}`;
}
