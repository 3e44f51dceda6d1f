/**
 * Deterministic simulation of a Raft cluster: one seed drives a virtual clock, a network that
 * delays, drops, duplicates and reorders messages and cuts links (partitions, one-way links), member
 * crashes and restarts from what they persisted (including crashes while a Ready is being written:
 * its unsynced or torn record is lost and none of its messages leave), snapshots with log compaction (and InstallSnapshot
 * to followers that fell behind it), and a client writing and reading a key-value register through
 * whoever leads. Invariants are checked after every event; at the end everything
 * heals, a write must commit, no acknowledged write may be lost, and the client history must be
 * linearizable.
 */
import { SeededRandom } from '../../src/common/random.js';
import { decodeConfChange, Raft, sendableBeforePersist } from '../../src/raft/raft.js';
import type { Entry, HardState, Message, SnapshotMeta } from '../../src/raft/types.js';
import { checkHistory, type Op } from './linearizability.js';

export interface SimOptions {
  seed: number;
  steps: number;
  nodes: number;
  /** A deliberately broken wrapper that sends a Ready's messages before its record is synced. */
  unsafeSendBeforeSync?: boolean;
}

export interface SimResult {
  ok: boolean;
  error?: string;
  stats: { ticks: number; messages: number; commits: number; leaders: number; crashes: number; ops: number; acked: number; snapshots: number; installs: number; tornWrites: number };
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

interface Member {
  id: string;
  raft: Raft | undefined; // undefined while crashed
  disk: Disk;
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

const enc = new TextEncoder();
const dec = new TextDecoder();

export class Simulation {
  private rng: SeededRandom;
  private members: Member[] = [];
  private net: InFlight[] = [];
  private seq = 0;
  private now = 0;
  private cut = new Set<string>();
  private history: { op: Op & { ret: number }; acked: boolean; token: string }[] = [];
  private leadersByTerm = new Map<number, string>();
  /** index -> "term:type:data" of the first application seen anywhere. */
  private appliedGlobal = new Map<number, string>();
  private stateCache: { index: number; kv: Map<string, string> } | undefined;
  private stats = { ticks: 0, messages: 0, commits: 0, leaders: 0, crashes: 0, ops: 0, acked: 0, snapshots: 0, installs: 0, tornWrites: 0 };
  // The fault mix is drawn from the seed too ("swarm testing").
  private readonly dropRate: number;
  private readonly dupRate: number;
  private readonly maxDelay: number;
  private readonly crashRate: number;
  private readonly partitionRate: number;
  /** Applied entries between snapshots (0: never), and entries kept behind one for slow followers. */
  private readonly snapshotInterval: number;
  private readonly keepEntries: number;

  constructor(private readonly o: SimOptions) {
    this.rng = new SeededRandom(o.seed);
    this.dropRate = this.rng.next() * 0.1;
    this.dupRate = this.rng.next() * 0.05;
    this.maxDelay = 1 + this.rng.int(4);
    this.crashRate = this.rng.next() * 0.004;
    this.partitionRate = this.rng.next() * 0.01;
    this.snapshotInterval = this.rng.next() < 0.25 ? 0 : 5 + this.rng.int(40);
    this.keepEntries = this.rng.int(10);
    const ids = Array.from({ length: o.nodes }, (_, i) => `m${i + 1}`);
    for (const id of ids) {
      const m: Member = { id, raft: undefined, disk: { hardState: { term: 0, vote: '', commit: 0 }, entries: [], snapshot: undefined }, kv: new Map(), appliedIndex: 0, proposals: new Map(), reads: new Map(), readIndexes: [] };
      this.members.push(m);
    }
    // Every member starts with the full voter list.
    for (const m of this.members) this.start(m);
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

  private ids(): string[] {
    return this.members.map((m) => m.id);
  }

  private start(m: Member): void {
    const snap = m.disk.snapshot;
    m.raft = new Raft(
      { id: m.id, voters: this.ids(), electionTick: 10, heartbeatTick: 1, random: new SeededRandom(this.rng.int(2 ** 31)), maxEntriesPerMsg: 8, maxInflight: 4 },
      { hardState: { ...m.disk.hardState }, entries: [...m.disk.entries], ...(snap ? { snapshot: snap.meta } : {}) },
    );
    // The state machine restarts from the snapshot; committed entries after it come out again.
    m.kv = new Map(snap?.kv ?? []);
    m.appliedIndex = snap?.meta.index ?? 0;
    m.proposals.clear();
    m.reads.clear();
    m.readIndexes = [];
  }

  private crash(m: Member): void {
    m.raft = undefined;
    this.stats.crashes++;
    // Its outstanding client operations have unknown outcomes.
    for (const p of [...m.proposals.values(), ...m.reads.values()]) this.history[p.opIndex]!.op.ret = Infinity;
  }

  /** One unit of virtual time: faults, client ops, ticks and deliveries. */
  private step(faults: boolean): void {
    this.now++;
    this.stats.ticks++;
    if (faults) this.injectFaults();
    if (this.rng.next() < 0.3) this.clientOp();
    for (const m of this.members) m.raft?.tick();
    this.pump(faults);
    this.deliverDue();
    this.pump(faults);
  }

  private injectFaults(): void {
    for (const m of this.members) {
      if (m.raft && this.rng.next() < this.crashRate) this.crash(m);
      else if (!m.raft && this.rng.next() < 0.05) this.start(m);
    }
    if (this.rng.next() < this.partitionRate) {
      this.cut.clear();
      const kind = this.rng.int(3);
      const ids = this.ids();
      if (kind === 0) {
        // Split into two sides.
        const side = new Set(ids.filter(() => this.rng.next() < 0.5));
        for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}->${b}`);
      } else if (kind === 1) {
        // One-way links.
        for (const a of ids) for (const b of ids) if (a !== b && this.rng.next() < 0.2) this.cut.add(`${a}->${b}`);
      }
    }
  }

  private clientOp(): void {
    const live = this.members.filter((m) => m.raft);
    if (live.length === 0) return;
    const m = live[this.rng.int(live.length)]!;
    const raft = m.raft!;
    // A client that reached a non-leader is told so and tries elsewhere (skip building the error).
    if (raft.role !== 'leader') return;
    const key = `k${this.rng.int(3)}`;
    if (this.rng.next() < 0.6) {
      const token = `${this.o.seed}-${this.history.length}`;
      const value = `v${this.history.length}`;
      try {
        const index = raft.propose(enc.encode(JSON.stringify({ key, value, token })));
        const opIndex = this.history.push({ op: { key, kind: 'put', value, call: this.now, ret: Infinity }, acked: false, token }) - 1;
        m.proposals.set(index, { opIndex, token });
        this.stats.ops++;
      } catch {
        // Not the leader: the client would try elsewhere.
      }
    } else {
      try {
        const ctx = raft.readIndex();
        const opIndex = this.history.push({ op: { key, kind: 'get', value: '', call: this.now, ret: Infinity }, acked: false, token: '' }) - 1;
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
        if (!snap || snap.meta.index !== msg.snapshot.index) throw new Error(`${from.id} sent snapshot ${msg.snapshot.index} but holds ${snap?.meta.index}`);
        msg = { ...msg, data: enc.encode(JSON.stringify(snap.kv)) };
      }
      if (this.cut.has(`${msg.from}->${msg.to}`) || this.rng.next() < this.dropRate) continue;
      const copies = this.rng.next() < this.dupRate ? 2 : 1;
      for (let i = 0; i < copies; i++) this.net.push({ at: this.now + 1 + this.rng.int(this.maxDelay), seq: this.seq++, msg });
    }
  }

  private deliverDue(): void {
    const due = this.net.filter((f) => f.at <= this.now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.net = this.net.filter((f) => f.at > this.now);
    for (const f of due) {
      const to = this.members.find((m) => m.id === f.msg.to);
      if (!to?.raft || this.cut.has(`${f.msg.from}->${f.msg.to}`)) continue;
      to.raft.step(f.msg);
      this.checkInvariants();
    }
  }

  /** Processes every member's Ready: persist, then send, then apply. */
  private pump(faults = false): void {
    for (let round = 0; round < 50; round++) {
      let moved = false;
      for (const m of this.members) {
        const r = m.raft;
        if (!r || !r.hasReady()) continue;
        moved = true;
        const ready = r.ready();
        const early = ready.messages.filter((msg) => sendableBeforePersist(msg, r.role));
        this.send(m, early);
        if (faults && this.rng.next() < this.crashRate) {
          // Power lost while this Ready was being written: its record never became durable (or was
          // torn and is cut off at restart), so none of it is on disk and none of its messages left.
          this.stats.tornWrites++;
          if (this.o.unsafeSendBeforeSync) this.send(m, ready.messages.filter((msg) => !early.includes(msg)));
          this.crash(m);
          continue;
        }
        if (ready.snapshot) this.install(m, ready.snapshot);
        if (ready.hardState) m.disk.hardState = { ...ready.hardState };
        if (ready.entries.length) {
          const first = ready.entries[0]!.index;
          m.disk.entries = m.disk.entries.filter((e) => e.index < first).concat(ready.entries);
        }
        r.advance(m.disk.entries.at(-1)?.index ?? 0);
        this.send(m, ready.messages.filter((msg) => !early.includes(msg)));
        for (const e of ready.committed) this.apply(m, e);
        this.maybeSnapshot(m);
        for (const rs of ready.readStates) m.readIndexes.push(rs);
        this.completeReads(m);
        this.checkInvariants();
      }
      if (!moved) return;
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
    m.disk.snapshot = { meta: { index: s.index, term: s.term, voters: [...s.voters], learners: [...s.learners] }, kv };
    m.disk.entries = [];
    m.kv = got;
    m.appliedIndex = s.index;
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
    const meta = r.snapshotTaken(m.appliedIndex, this.keepEntries);
    m.disk.snapshot = { meta, kv: [...m.kv] };
    m.disk.entries = m.disk.entries.filter((e) => e.index > meta.index);
    this.stats.snapshots++;
  }

  private apply(m: Member, e: Entry): void {
    if (e.index !== m.appliedIndex + 1) throw new Error(`${m.id} applied index ${e.index} after ${m.appliedIndex}`);
    m.appliedIndex = e.index;
    const sig = `${e.term}:${e.type}:${dec.decode(e.data)}`;
    const seen = this.appliedGlobal.get(e.index);
    if (seen === undefined) {
      this.appliedGlobal.set(e.index, sig);
      this.stats.commits++;
    } else if (seen !== sig) {
      throw new Error(`state machine safety: index ${e.index} applied as ${seen} and as ${sig} (on ${m.id})`);
    }
    if (e.type === 'conf') m.raft?.applyConfChange(decodeConfChange(e.data));
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
        h.op.ret = Infinity; // overwritten by another leader's entry: outcome known to be "not at this index"
      }
    }
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

  private checkInvariants(): void {
    for (const m of this.members) {
      const r = m.raft;
      if (!r || r.role !== 'leader') continue;
      const prev = this.leadersByTerm.get(r.term);
      if (prev === undefined) {
        this.leadersByTerm.set(r.term, r.id);
        this.stats.leaders++;
        // Leader completeness: a new leader holds every entry applied anywhere so far.
        for (const [index, sig] of this.appliedGlobal) {
          if (index <= r.log.compactedTo.index) continue; // in its snapshot, checked when made or installed
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

  /** Log matching, over every pair of live members. */
  private checkLogMatching(): void {
    const live = this.members.filter((m) => m.raft);
    for (const a of live) {
      for (const b of live) {
        if (a.id >= b.id) continue;
        const la = a.raft!.log;
        const lb = b.raft!.log;
        const hi = Math.min(la.lastIndex, lb.lastIndex);
        let matched = false;
        for (let i = hi; i >= 1; i--) {
          const ta = la.termAt(i);
          const tb = lb.termAt(i);
          if (matched) {
            if (ta === undefined || tb === undefined) break; // compacted on one side
            const ea = la.entry(i);
            const eb = lb.entry(i);
            const differ = ta !== tb || (ea && eb && dec.decode(ea.data) !== dec.decode(eb.data));
            if (differ) throw new Error(`log matching: ${a.id} and ${b.id} differ at ${i} below a matching entry`);
          } else if (ta === tb && ta !== undefined) {
            matched = true;
          }
        }
      }
    }
  }

  private finish(): void {
    this.checkLogMatching();
    // Heal: links restored, crashed members restarted, no more faults.
    this.cut.clear();
    for (const m of this.members) if (!m.raft) this.start(m);
    let committed = false;
    const marker = `final-${this.o.seed}`;
    // One proposal per leader term: a lagging member must catch up without new writes pushing it.
    const proposedIn = new Set<number>();
    for (let i = 0; i < 3000 && !committed; i++) {
      this.step(false);
      const leader = this.members.find((m) => m.raft?.role === 'leader');
      if (leader && !proposedIn.has(leader.raft!.term)) {
        try {
          leader.raft!.propose(enc.encode(JSON.stringify({ key: 'final', value: marker, token: marker })));
          proposedIn.add(leader.raft!.term);
        } catch {
          // retry later
        }
      }
      committed = this.members.every((m) => m.kv.get('final') === marker);
    }
    if (!committed) throw new Error('liveness: no write committed on every member within 3000 ticks after healing');
    this.checkLogMatching();
    // No acknowledged write lost: every acked put is in every member's applied log.
    const applied = new Set<string>();
    for (const sig of this.appliedGlobal.values()) {
      const m = /"token":"([^"]+)"/.exec(sig);
      if (m) applied.add(m[1]!);
    }
    for (const h of this.history) {
      if (h.op.kind === 'put' && h.acked && !applied.has(h.token)) throw new Error(`acknowledged write ${h.token} was lost`);
    }
    for (const m of this.members) {
      if (m.appliedIndex !== Math.max(...this.members.map((x) => x.appliedIndex))) continue;
    }
    const lin = checkHistory(this.history.map((h) => h.op));
    if (!lin.ok) throw new Error(`linearizability: key ${lin.key}: ${lin.reason}`);
  }
}

export function replayCommand(o: SimOptions): string {
  return `npm run sim -- --seed ${o.seed} --steps ${o.steps} --nodes ${o.nodes}`;
}
