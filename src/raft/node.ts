/**
 * A Raft member on a real machine: the pure core driven by a ticker, its Ready persisted to the WAL
 * before messages leave, committed entries handed to the state machine, and proposals resolved
 * when their entry is applied. The state machine snapshots itself every `snapshotInterval` entries;
 * the WAL and the in-memory log are then cut at that point.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../common/logging.js';
import type { Random } from '../common/random.js';
import { decodeConfChange, Raft } from './raft.js';
import { NotLeaderError, type Entry, type MemberId, type Message } from './types.js';
import { RaftWal } from './wal.js';

export interface StateMachine {
  /** A committed normal entry, in index order. */
  apply(index: number, data: Uint8Array): void;
  /** Writes the applied state (at `index`) to `file` atomically. */
  saveSnapshot(file: string, index: number): Promise<void>;
  /** Restores from `file`; returns the index it covers. */
  loadSnapshot(file: string): Promise<number>;
}

export interface Transport {
  send(msgs: readonly Message[]): void;
  onMessage(handler: (m: Message) => void): void;
}

export interface RaftNodeOptions {
  id: MemberId;
  voters: MemberId[];
  dir: string;
  tickMs: number;
  electionTick: () => number;
  heartbeatTick: () => number;
  snapshotInterval: () => number;
  sm: StateMachine;
  random: Random;
  logger: Logger;
  transport?: Transport;
  onLeadershipChange?: (leader: boolean) => void;
}

interface Waiter {
  resolve: (index: number) => void;
  reject: (e: unknown) => void;
  term: number;
}

const snapName = (index: number, term: number): string => `snapshot-${String(index).padStart(16, '0')}-${term}.snap`;

export class RaftNode {
  private raft!: Raft;
  private wal: RaftWal;
  private timer: NodeJS.Timeout | undefined;
  private processing = false;
  private again = false;
  private waiters = new Map<number, Waiter>();
  private snapshotIndex = 0;
  private snapshotting = false;
  private wasLeader = false;
  private closed = false;

  constructor(private readonly o: RaftNodeOptions) {
    this.wal = new RaftWal(path.join(o.dir, 'wal'));
  }

  async start(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    const snaps = (await readdir(this.o.dir)).filter((f) => /^snapshot-\d+-\d+\.snap$/.test(f)).sort();
    const latest = snaps.at(-1);
    let snapshot: { index: number; term: number } | undefined;
    if (latest) {
      const index = await this.o.sm.loadSnapshot(path.join(this.o.dir, latest));
      snapshot = { index, term: Number(latest.split('-')[2]!.split('.')[0]) };
    }
    const st = await this.wal.open();
    const snap = st.snapshot && (!snapshot || st.snapshot.index >= snapshot.index) ? st.snapshot : snapshot;
    if (snapshot && snap && snap.index > snapshot.index) throw new Error(`raft: WAL expects snapshot ${snap.index} but the newest on disk is ${snapshot.index}`);
    this.snapshotIndex = snap?.index ?? 0;
    this.raft = new Raft(
      { id: this.o.id, voters: this.o.voters, electionTick: this.o.electionTick(), heartbeatTick: this.o.heartbeatTick(), random: this.o.random },
      { hardState: st.hardState, entries: st.entries.filter((e) => e.index > this.snapshotIndex), snapshot: snap },
    );
    this.o.transport?.onMessage((m) => {
      this.raft.step(m);
      this.kick();
    });
    this.timer = setInterval(() => {
      this.raft.tick();
      this.kick();
    }, this.o.tickMs);
    // A single member elects itself on its first ticks; campaign at once to skip the timeout.
    if (this.o.voters.length === 1) {
      this.raft.step({ type: 'timeoutNow', from: this.o.id, to: this.o.id, term: this.raft.term });
    }
    this.kick();
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    while (this.processing || this.snapshotting) await new Promise((r) => setTimeout(r, 5));
    for (const w of this.waiters.values()) w.reject(new NotLeaderError(''));
    this.waiters.clear();
    await this.wal.close();
  }

  /** Resolves once this member leads (a one-member group elects itself at start). */
  async waitForLeadership(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isLeader) {
      if (Date.now() > deadline) throw new Error('raft: no leadership within the timeout');
      await new Promise((r) => setTimeout(r, 10));
    }
    // Everything committed before this leader's term has been applied once its no-op applies.
    while (this.raft.appliedIndex < this.raft.commit || this.raft.log.termAt(this.raft.commit) !== this.raft.term) {
      if (Date.now() > deadline) throw new Error('raft: log not caught up within the timeout');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  get isLeader(): boolean {
    return this.raft?.role === 'leader';
  }

  get stats(): { syncs: number; entries: number } {
    return this.wal.stats;
  }

  /** Proposes data; resolves with its index once applied here, rejects if leadership is lost first. */
  propose(data: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new NotLeaderError(''));
    let index: number;
    try {
      index = this.raft.propose(data);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = new Promise<number>((resolve, reject) => this.waiters.set(index, { resolve, reject, term: this.raft.term }));
    this.kick();
    return p;
  }

  private kick(): void {
    if (this.processing) {
      this.again = true;
      return;
    }
    void this.process();
  }

  private async process(): Promise<void> {
    this.processing = true;
    try {
      do {
        this.again = false;
        while (this.raft.hasReady()) {
          const r = this.raft.ready();
          await this.wal.append(r.hardState, r.entries);
          this.raft.advance(r.entries.at(-1)?.index ?? 0);
          this.o.transport?.send(r.messages);
          for (const e of r.committed) this.applyEntry(e);
        }
        this.noticeLeadership();
        await this.maybeSnapshot();
      } while (this.again && !this.closed);
    } catch (e) {
      this.o.logger.error('raft: processing failed', { error: String(e) });
    } finally {
      this.processing = false;
    }
  }

  private applyEntry(e: Entry): void {
    if (e.type === 'normal') this.o.sm.apply(e.index, e.data);
    else if (e.type === 'conf') this.raft.applyConfChange(decodeConfChange(e.data));
    const w = this.waiters.get(e.index);
    if (w) {
      this.waiters.delete(e.index);
      // An entry of another term at our index means our proposal was overwritten.
      if (e.term === w.term) w.resolve(e.index);
      else w.reject(new NotLeaderError(this.raft.leader));
    }
  }

  private noticeLeadership(): void {
    const leader = this.raft.role === 'leader';
    if (leader === this.wasLeader) return;
    this.wasLeader = leader;
    if (!leader) {
      for (const w of this.waiters.values()) w.reject(new NotLeaderError(this.raft.leader));
      this.waiters.clear();
    }
    this.o.onLeadershipChange?.(leader);
  }

  private async maybeSnapshot(): Promise<void> {
    const applied = this.raft.appliedIndex;
    if (this.snapshotting || applied - this.snapshotIndex < this.o.snapshotInterval()) return;
    this.snapshotting = true;
    try {
      const term = this.raft.log.termAt(applied) ?? this.raft.term;
      const file = path.join(this.o.dir, snapName(applied, term));
      await this.o.sm.saveSnapshot(file, applied);
      const tail = this.raft.log.slice(applied + 1, this.raft.log.lastIndex);
      await this.wal.cut({ index: applied, term }, this.raft.hardState(), tail);
      this.raft.compact(applied);
      this.snapshotIndex = applied;
      for (const f of await readdir(this.o.dir)) {
        if (/^snapshot-\d+-\d+\.snap$/.test(f) && f !== path.basename(file)) await rm(path.join(this.o.dir, f), { force: true });
      }
    } finally {
      this.snapshotting = false;
    }
  }
}
