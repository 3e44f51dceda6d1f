/**
 * A Raft member on a real machine: the pure core driven by a ticker, its Ready persisted to the WAL
 * before messages leave (except a leader's appends, which go out while it writes), committed entries handed to the state machine, and proposals resolved
 * when their entry is applied. Every `snapshotInterval` entries the state machine's state is
 * captured and written in the background (Raft keeps running meanwhile); once on disk, the WAL and
 * the in-memory log are cut at that point. Everything on disk is sealed with the data-encryption key.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logging.js';
import type { Random } from '../common/random.js';
import { KeyRing, type DataCipher } from './cipher.js';
import { decodeConfChange, Raft, sendableBeforePersist } from './raft.js';
import {
  IncomingSnapshot,
  isSnapshotFile,
  payloadChunks,
  readSnapshot,
  snapshotFileName,
  snapshotParts,
  writeSnapshot,
} from './snapshot-file.js';
import { nodeFs, type RaftFs } from './fs.js';
import { every, processClock } from './timers.js';
import {
  NotLeaderError,
  ProposalOutcomeUnknownError,
  RaftFatalError,
  type ConfChange,
  type Entry,
  type MemberId,
  type Message,
  type ReadState,
  type SnapshotMeta,
} from './types.js';
import { RaftWal, type OpenWalFile } from './wal.js';
import type { RaftInstruments } from './instruments.js';
import { TickMeter } from './tick-meter.js';

export interface StateMachine {
  /**
   * A committed normal entry, in index order. `data` is a view into one of the log's shared 256 KiB
   * buffers: decode it, or copy what must be kept (holding the view keeps the whole buffer alive).
   */
  apply(index: number, data: Uint8Array): void;
  /**
   * The applied state as a stream of chunks. It must capture the state when called, before returning:
   * entries keep being applied while the chunks are consumed.
   */
  snapshot(): AsyncIterable<Uint8Array>;
  /** Replaces the state with a snapshot's chunks; `index` is the last entry it covers. */
  restore(index: number, chunks: AsyncIterable<Uint8Array>): Promise<void>;
}

export interface Transport {
  send(msgs: readonly Message[]): void;
  onMessage(handler: (m: Message) => void): void;
  /** Bytes queued towards a member and not yet sent (for pacing a snapshot transfer). */
  backlog?(to: MemberId): number;
  /** Resolves true once the bytes queued towards a member fall to `below`; false on close or timeout. */
  whenDrained?(to: MemberId, below: number, timeoutMs: number): Promise<boolean>;
}

/** A snapshot goes to a follower in parts of about this size, paced by the transport's backlog. */
const SNAPSHOT_PART_BYTES = 256 * 1024;
const SNAPSHOT_MAX_BACKLOG = 8 * 1024 * 1024;

/** Resolves in the check phase of the next event-loop turn, after pending I/O and timers. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface RaftNodeOptions {
  id: MemberId;
  voters: MemberId[];
  dir: string;
  tickMs: number;
  electionTick: () => number;
  heartbeatTick: () => number;
  snapshotInterval: () => number;
  /** Entries kept behind a snapshot for followers a little behind (swarm's LogEntriesForSlowFollowers). */
  keepEntries?: () => number;
  /** Older snapshots kept besides the newest (swarm's KeepOldSnapshots). */
  keepOldSnapshots?: () => number;
  /** Size of the parts a snapshot is sent in (tests make it small). */
  snapshotPartBytes?: number;
  sm: StateMachine;
  /** Seals the WAL and snapshots (the manager's data-encryption key). */
  cipher: DataCipher;
  /**
   * Keys that may still have sealed some of what is on disk (a key replacement cut short by a
   * crash): read with, never written with. Call reseal() to rewrite everything under `cipher`.
   */
  retiredCiphers?: readonly DataCipher[];
  random: Random;
  logger: Logger;
  transport?: Transport;
  onLeadershipChange?: (leader: boolean) => void;
  /** Start as the only voter, whatever the log says (recovering a swarm that lost its quorum). */
  forceNewCluster?: boolean;
  /** A peer says this member was removed from its group (the caller checks that peer leads). */
  onRemoved?: (by: MemberId) => void;
  /**
   * Called once when the node stops for good after a storage or apply error (the error is a
   * RaftFatalError). The process should exit non-zero and be restarted from disk: continuing could
   * acknowledge an entry that is not durable or serve a state that skipped one.
   */
  onFatal?: (err: RaftFatalError) => void;
  /** stop() gives up waiting for a write in progress after this long (a hung disk). Default 5 s. */
  stopTimeoutMs?: number;
  /**
   * Cut a WAL damaged before its end at the damage instead of refusing to start (logging what is
   * dropped). Records dropped may include acknowledged writes: an operator's explicit choice.
   */
  repairWal?: boolean;
  /** Opens WAL segment files (tests inject disk faults here). */
  openWalFile?: OpenWalFile;
  /** The filesystem under the WAL and the snapshots (the simulator's disks; default the host's). */
  fs?: RaftFs;
  /** Time for the ticker and the timeouts (the simulator's virtual clock; default the process's). */
  clock?: Clock;
  /** Measurements for monitoring (WAL syncs, proposal latency, leader changes, tick lateness). */
  instruments?: RaftInstruments;
}

interface Read {
  index: number | undefined;
  resolve: () => void;
  reject: (e: unknown) => void;
  cancel: () => void;
}

interface Waiter {
  resolve: (index: number) => void;
  reject: (e: unknown) => void;
  term: number;
  /** performance.now() when proposed. */
  at: number;
}

/** A normal proposal waiting for the next processing pass, which proposes all of them at once. */
interface Queued {
  data: Uint8Array;
  resolve: (index: number) => void;
  reject: (e: unknown) => void;
  at: number;
}

interface ResealWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A snapshot on disk the WAL has not been cut at yet; a reseal's snapshot carries its waiters. */
interface PendingCut {
  meta: SnapshotMeta;
  reseal?: { waiters: ResealWaiter[]; keys: number };
}

export class RaftNode {
  private raft!: Raft;
  private wal: RaftWal;
  private stopTicker: () => void = () => undefined;
  private readonly fs: RaftFs;
  private readonly clock: Clock;
  private processing = false;
  private again = false;
  /** This leader's WAL write is under way: what the followers' answers commit is applied at once. */
  private applyDuringWrite = false;
  /** A processing pass is due at the end of this event-loop turn (setImmediate). */
  private scheduled = false;
  /** Proposals since the last pass: proposed together, so each follower gets one append for them. */
  private queued: Queued[] = [];
  private waiters = new Map<number, Waiter>();
  private snapshotIndex = 0;
  private snapshotting = false;
  /** A snapshot written in the background, waiting for the processing loop to cut the WAL at it. */
  private pendingCut: PendingCut | undefined;
  /** The data-encryption keys: new records are sealed with the active one. */
  private readonly ring: KeyRing;
  /** Counts key switches: a reseal is complete only if no other switch happened meanwhile. */
  private keySwitches = 0;
  /** Callers of reseal() waiting for the next reseal snapshot to start. */
  private resealWaiters: ResealWaiter[] = [];
  /** Old snapshot files being removed (off the append path; one removal at a time). */
  private pruning: Promise<void> = Promise.resolve();
  private wasLeader = false;
  /** The last leader known (for counting leader changes). */
  private lastLeader = '';
  private installed = 0;
  /** Followers a snapshot is being streamed to right now. */
  private streaming = new Set<MemberId>();
  /** A snapshot arriving from the leader, and one fully received that the core has not installed yet. */
  private incoming: IncomingSnapshot | undefined;
  private staged: IncomingSnapshot | undefined;
  private rx: Promise<void> = Promise.resolve();
  /** Numbers each incoming transfer's staging file: a resend never reuses (or deletes) another's. */
  private transfers = 0;
  /** Linearizable reads waiting for their ReadIndex to be confirmed (by ctx) and then applied. */
  private reads = new Map<number, Read>();
  private closed = false;
  /** Set once a storage or apply error stopped the node; every later call fails with it. */
  private fatal: RaftFatalError | undefined;
  /** The processing run in progress and the background snapshot write, for stop() to wait on. */
  private loop: Promise<void> = Promise.resolve();
  private snapshotJob: Promise<void> = Promise.resolve();
  /** How late each tick fired (a blocked event loop), for diagnostics and the flood tests. */
  readonly ticks: TickMeter;
  /** 'change' after every processing run: role, leader, commit or applied may have moved. */
  private readonly changes = new EventEmitter().setMaxListeners(0);

  constructor(private readonly o: RaftNodeOptions) {
    this.ring = new KeyRing(o.cipher, o.retiredCiphers ?? []);
    this.ticks = new TickMeter(o.tickMs);
    this.fs = o.fs ?? nodeFs;
    this.clock = o.clock ?? processClock;
    this.wal = new RaftWal(path.join(o.dir, 'wal'), this.ring, undefined, o.openWalFile, this.fs);
  }

  async start(): Promise<void> {
    await this.fs.mkdir(this.o.dir);
    for (const f of await this.fs.readdir(this.o.dir))
      if (f.startsWith('incoming-')) await this.fs.rm(path.join(this.o.dir, f));
    const latest = (await this.fs.readdir(this.o.dir)).filter(isSnapshotFile).sort().at(-1);
    let snapshot: SnapshotMeta | undefined;
    if (latest) {
      const reader = await readSnapshot(path.join(this.o.dir, latest), this.ring, this.fs);
      await this.o.sm.restore(reader.meta.index, reader.chunks());
      snapshot = reader.meta;
    }
    const st = await this.wal.open(
      this.o.repairWal
        ? (dropped) => this.o.logger.warn('raft: WAL repaired; records dropped', { dropped })
        : undefined,
    );
    // A snapshot file newer than the WAL's snapshot record is a crash between writing it and cutting
    // the WAL; its header carries the membership, so it stands on its own.
    const snap = st.snapshot && (!snapshot || st.snapshot.index >= snapshot.index) ? st.snapshot : snapshot;
    if (snap && (!snapshot || snap.index > snapshot.index))
      throw new Error(
        `raft: WAL expects snapshot ${snap.index} but the newest on disk is ${snapshot?.index ?? 'none'}`,
      );
    this.snapshotIndex = snap?.index ?? 0;
    this.raft = new Raft(
      {
        id: this.o.id,
        voters: this.o.voters,
        electionTick: this.o.electionTick(),
        heartbeatTick: this.o.heartbeatTick(),
        random: this.o.random,
      },
      { hardState: st.hardState, entries: st.entries.filter((e) => e.index > this.snapshotIndex), snapshot: snap },
    );
    // Replay what the log says is committed first: it decides the membership this member starts with.
    await this.process();
    if (this.fatal) throw this.fatal;
    this.o.transport?.onMessage((m) => {
      if (this.closed) return;
      if (m.type === 'removed') this.o.onRemoved?.(m.from);
      if (m.type === 'snapshot' && m.part !== undefined) {
        this.rx = this.rx
          .then(() => this.receivePart(m))
          .catch((e: unknown) => this.o.logger.warn('raft: receiving a snapshot failed', { error: String(e) }));
        return;
      }
      this.raft.step(m);
      if (this.applyDuringWrite) this.applyCommittedNow();
      this.kick();
    });
    this.stopTicker = every(this.clock, this.o.tickMs, () => {
      const late = this.ticks.tick(performance.now(), Date.now());
      if (late !== undefined) this.o.instruments?.tickLateness?.(late / 1000);
      this.raft.tick();
      this.kick();
    });
    const { voters, learners } = this.members();
    if (this.o.forceNewCluster) {
      this.raft.forceSoleVoter();
      this.raft.step({ type: 'timeoutNow', from: this.o.id, to: this.o.id, term: this.raft.term });
    } else if (voters.length === 1 && voters[0] === this.o.id) {
      // The only voter is the whole quorum: elect itself now rather than after a timeout.
      this.raft.step({ type: 'timeoutNow', from: this.o.id, to: this.o.id, term: this.raft.term });
    } else {
      // Say hello to every peer: one that removed this member while it was away answers so at once,
      // before this member votes or campaigns with its old membership.
      const peers = [...voters, ...learners].filter((id) => id !== this.o.id);
      this.o.transport?.send(peers.map((to) => ({ type: 'probe', from: this.o.id, to, term: this.raft.term })));
    }
    this.kick();
  }

  /**
   * Stops ticking and processing. Waits for a write in progress, but never longer than
   * stopTimeoutMs: a hung disk must not keep the process from exiting. Pending proposals end with
   * ProposalOutcomeUnknownError (they may still commit elsewhere).
   */
  async stop(): Promise<void> {
    this.closed = true;
    this.stopTicker();
    this.rejectQueued(new NotLeaderError(''));
    this.rejectWaiters();
    this.failReads(new NotLeaderError(''));
    this.failReseals(new Error('raft: stopped before the data was resealed'));
    const bound = this.o.stopTimeoutMs ?? 5000;
    const idle = Promise.all([this.loop, this.snapshotJob, this.pruning]).then(() =>
      this.wal.close(this.fatal === undefined),
    );
    let cancel = (): void => undefined;
    const late = new Promise<void>((resolve) => {
      cancel = this.clock.setTimer(bound, () => {
        this.o.logger.warn('raft: stopping without waiting any longer for the disk', { afterMs: bound });
        resolve();
      });
    });
    await Promise.race([idle.catch(() => undefined), late]);
    cancel();
    this.changes.emit('change');
  }

  /** Resolves true once some member is known to lead, false after the timeout. */
  async waitForLeader(timeoutMs: number): Promise<boolean> {
    await this.waitFor(() => this.leader !== '', timeoutMs);
    return this.leader !== '';
  }

  /** Resolves once this member leads (a one-member group elects itself at start). */
  async waitForLeadership(timeoutMs: number): Promise<void> {
    const deadline = this.clock.now() + timeoutMs;
    if (!(await this.waitFor(() => this.isLeader, timeoutMs)))
      throw this.fatal ?? new Error('raft: no leadership within the timeout');
    // Everything committed before this leader's term has been applied once its no-op applies.
    const caughtUp = (): boolean =>
      this.raft.appliedIndex >= this.raft.commit && this.raft.log.termAt(this.raft.commit) === this.raft.term;
    if (!(await this.waitFor(caughtUp, deadline - this.clock.now())))
      throw this.fatal ?? new Error('raft: log not caught up within the timeout');
  }

  /** Resolves true when `pred` holds (checked after each processing run), false on timeout or stop. */
  private waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        cancel();
        this.changes.off('change', check);
        resolve(ok);
      };
      const check = (): void => {
        if (pred()) done(true);
        else if (this.closed) done(false);
      };
      const cancel = this.clock.setTimer(Math.max(0, timeoutMs), () => done(pred()));
      this.changes.on('change', check);
    });
  }

  /**
   * The leader's view of every member: how far its log matches, how long since it was last heard
   * from, and whether that is within an election timeout (what `node ls` shows as Reachable or
   * Unreachable). Empty off the leader, which has no such view.
   */
  peers(): { id: MemberId; match: number; lastContactMs: number; reachable: boolean; learner: boolean }[] {
    if (this.raft?.role !== 'leader') return [];
    const timeoutTicks = this.o.electionTick();
    return [...this.raft.progress].map(([id, pr]) => {
      const ticks = id === this.o.id ? 0 : (this.raft.lastContact(id) ?? Infinity);
      return {
        id,
        match: pr.match,
        lastContactMs: ticks * this.o.tickMs,
        reachable: ticks < timeoutTicks,
        learner: pr.learner,
      };
    });
  }

  /** Where this member stands, for diagnostics. */
  debugState(): {
    role: string;
    term: number;
    commit: number;
    applied: number;
    first: number;
    last: number;
    progress: Record<string, string>;
  } {
    const progress: Record<string, string> = {};
    for (const [id, pr] of this.raft.progress)
      progress[id] = `${pr.state} match=${pr.match} next=${pr.next} pending=${pr.pendingSnapshot}`;
    return {
      role: this.raft.role,
      term: this.raft.term,
      commit: this.raft.commit,
      applied: this.raft.appliedIndex,
      first: this.raft.log.firstIndex,
      last: this.raft.log.lastIndex,
      progress,
    };
  }

  /** The member this one believes leads ('' if none known, or this node stopped after a fault). */
  get leader(): MemberId | '' {
    if (this.fatal) return '';
    return this.raft?.leader ?? '';
  }

  get isLeader(): boolean {
    return !this.fatal && this.raft?.role === 'leader';
  }

  /** The error that stopped this node for good, if one did. */
  get failure(): RaftFatalError | undefined {
    return this.fatal;
  }

  get stats(): { syncs: number; entries: number; snapshotsInstalled: number } {
    return { ...this.wal.stats, snapshotsInstalled: this.installed };
  }

  /** Proposes data; resolves with its index once applied here, rejects if leadership is lost first. */
  propose(data: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(this.fatal ?? new NotLeaderError(''));
    if (this.raft.role !== 'leader') return Promise.reject(new NotLeaderError(this.raft.leader));
    const p = new Promise<number>((resolve, reject) =>
      this.queued.push({ data, resolve, reject, at: performance.now() }),
    );
    this.kick();
    return p;
  }

  /** Hands the queued proposals to the core in one go; they wait for their entries like any other. */
  private proposeQueued(): void {
    if (this.queued.length === 0) return;
    const batch = this.queued.splice(0);
    let first: number;
    try {
      first = this.raft.proposeAll(batch.map((q) => q.data));
    } catch (e) {
      for (const q of batch) q.reject(e);
      return;
    }
    const term = this.raft.term;
    batch.forEach((q, i) => this.waiters.set(first + i, { resolve: q.resolve, reject: q.reject, term, at: q.at }));
  }

  /** Proposals never handed to the core: certainly not committed. */
  private rejectQueued(e: unknown): void {
    for (const q of this.queued.splice(0)) q.reject(e);
  }

  /**
   * Proposes a membership change (one at a time); resolves once it is applied here, when the new
   * membership is in force.
   */
  changeMembership(cc: ConfChange): Promise<number> {
    return this.submit(() => this.raft.proposeConfChange(cc));
  }

  /**
   * Replaces the data-encryption key (autolock turned on: the old key was on disk in the clear).
   * Records are sealed with `next` from now on; resolves once nothing on disk needs any other key
   * (see reseal). Until then a restart must be given both keys.
   */
  rotateDataKey(next: DataCipher): Promise<void> {
    if (next !== this.ring.active) {
      this.ring.use(next);
      this.keySwitches++;
    }
    return this.reseal();
  }

  /**
   * Rewrites what this member keeps on disk under the active key: a snapshot of the applied state,
   * a fresh WAL segment holding the entries after it, and no older snapshot file. Resolves once that
   * is durable; the retired keys are then forgotten. Needed after a restart with retired keys.
   */
  reseal(): Promise<void> {
    if (this.closed) return Promise.reject(this.fatal ?? new Error('raft: stopped'));
    return new Promise<void>((resolve, reject) => {
      this.resealWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  private failReseals(e: unknown): void {
    for (const w of this.resealWaiters.splice(0)) w.reject(e);
    for (const w of this.pendingCut?.reseal?.waiters.splice(0) ?? []) w.reject(e);
  }

  /** Hands leadership to a caught-up voter (a demoted or leaving leader); no-op off the leader. */
  transferLeadership(to: MemberId): void {
    this.raft.transferLeadership(to);
    this.kick();
  }

  /**
   * Calls back after every processing pass (a tick, a message, a proposal): what it reads (leader,
   * members, peers) may have changed. Returns the unsubscribe function.
   */
  observe(observer: () => void): () => void {
    this.changes.on('change', observer);
    return () => this.changes.off('change', observer);
  }

  /** Resolves true once `condition` holds (checked now and after each pass), false after the timeout or stop. */
  until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    return this.waitFor(condition, timeoutMs);
  }

  /** The membership this member currently applies. */
  members(): { voters: MemberId[]; learners: MemberId[] } {
    return { voters: [...this.raft.voters], learners: [...this.raft.learners] };
  }

  /** The leader's commit index as this member knows it, and how far it has applied. */
  get progressIndex(): { commit: number; applied: number } {
    return { commit: this.raft.commit, applied: this.raft.appliedIndex };
  }

  private submit(proposeNow: () => number): Promise<number> {
    if (this.closed) return Promise.reject(this.fatal ?? new NotLeaderError(''));
    let index: number;
    try {
      index = proposeNow();
    } catch (e) {
      return Promise.reject(e);
    }
    const p = new Promise<number>((resolve, reject) =>
      this.waiters.set(index, { resolve, reject, term: this.raft.term, at: performance.now() }),
    );
    this.kick();
    return p;
  }

  /**
   * Resolves once this member has confirmed, with a heartbeat round to a majority, that it still
   * leads, and has applied everything committed before the call: reads after it are linearizable
   * without writing to the log (ReadIndex). Rejects with NotLeaderError off the leader or when no
   * majority answers in time.
   */
  readBarrier(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.reject(this.fatal ?? new NotLeaderError(''));
    let ctx: number;
    try {
      ctx = this.raft.readIndex();
    } catch (e) {
      return Promise.reject(e);
    }
    const p = new Promise<void>((resolve, reject) => {
      const cancel = this.clock.setTimer(timeoutMs, () => {
        this.reads.delete(ctx);
        reject(new NotLeaderError(''));
      });
      this.reads.set(ctx, { index: undefined, resolve, reject, cancel });
    });
    this.kick();
    return p;
  }

  private completeReads(): void {
    for (const [ctx, read] of this.reads) {
      if (read.index === undefined || read.index > this.raft.appliedIndex) continue;
      read.cancel();
      this.reads.delete(ctx);
      read.resolve();
    }
  }

  private failReads(e: unknown): void {
    for (const read of this.reads.values()) {
      read.cancel();
      read.reject(e);
    }
    this.reads.clear();
  }

  /**
   * Asks for a processing pass. It runs once the current event-loop turn has handled all of its
   * input (every message of a TCP read, every request that arrived together), so they share one
   * Ready, one WAL write and one append per follower, at no cost in latency.
   */
  private kick(): void {
    if (this.closed) return;
    if (this.processing) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed) return;
      if (this.processing) this.again = true;
      else this.loop = this.process();
    });
  }

  /**
   * Persists, sends and applies every Ready. Any error in here is a storage or apply fault and stops
   * the node for good: after a failed fsync the kernel may have dropped the pages, and after a failed
   * apply the state machine no longer matches the log (etcd and PostgreSQL after "fsyncgate").
   */
  private async process(): Promise<void> {
    this.processing = true;
    try {
      do {
        this.again = false;
        // `closed`: a failure elsewhere (a snapshot write) stopped the node while this loop waited.
        for (this.proposeQueued(); !this.closed && this.raft.hasReady(); this.proposeQueued()) {
          const r = this.raft.ready();
          const role = this.raft.role;
          // Only a leader's appends and heartbeats may leave before the write. A Ready that only moves
          // the commit index writes nothing (the WAL keeps it for its next record), so the rest waits
          // no longer than a turn; sending it before the write broke the node simulator (seed 124:
          // a restored snapshot differing from the committed state), so the order stays as etcd's.
          this.sendMessages(r.messages.filter((m) => sendableBeforePersist(m, role)));
          if (r.snapshot) await this.installSnapshot(r.snapshot);
          if (this.closed) break;
          // A leader applies what is already committed before its own write, and, while a write that
          // went to the thread pool (a large record, see wal.ts) is under way, whatever the followers'
          // answers commit: a majority holds those entries on disk without this member (Raft thesis
          // 10.2.1), so this disk does not hold up their answers. A follower writes, then applies.
          const early = role === 'leader'; // a leader never installs a snapshot
          if (early && r.committed.length > 0) {
            this.applyEntries(r.committed);
            // Let the answers go out first: a small record is written synchronously (wal.ts), and
            // the callbacks of the proposals just resolved would otherwise wait for it.
            await Promise.resolve();
            if (this.closed) break;
          }
          const syncStart = performance.now();
          this.applyDuringWrite = early;
          let wrote: boolean;
          try {
            wrote = await this.wal.append(r.hardState, r.entries);
          } finally {
            this.applyDuringWrite = false;
          }
          if (this.closed) break;
          if (wrote) this.o.instruments?.walSync?.((performance.now() - syncStart) / 1000, r.entries.length);
          const last = r.entries.at(-1);
          this.raft.advance(last?.index ?? 0, last?.term);
          this.sendMessages(r.messages.filter((m) => !sendableBeforePersist(m, role)));
          if (!early) this.applyEntries(r.committed);
          this.noteReadStates(r.readStates);
          // After every Ready, not only when the input stops: under steady load it never does.
          await this.betweenReadies();
          // More to do: let timers and I/O in first. A WAL write from the loop itself (wal.ts) and
          // proposals chained on applied ones (microtasks) would otherwise keep this loop running
          // with no turn for ticks, the network or a snapshot being written.
          if (this.queued.length > 0 || this.raft.hasReady()) await nextTurn();
        }
        await this.betweenReadies();
      } while (this.again && !this.closed);
    } catch (e) {
      this.fail(e);
    } finally {
      this.processing = false;
      this.noticeLeaderChange();
      this.changes.emit('change');
    }
  }

  /** Leadership news, and a snapshot's WAL cut or the start of the next snapshot when due. */
  private async betweenReadies(): Promise<void> {
    this.noticeLeadership();
    if (this.pendingCut) await this.cutAt(this.pendingCut);
    this.maybeSnapshot();
  }

  /** Applies committed entries and completes the reads they unblock. */
  private applyEntries(committed: readonly Entry[]): void {
    for (const e of committed) {
      this.applyEntry(e);
      this.raft.appliedTo(e.index);
    }
    this.completeReads();
  }

  /** Entries the followers' answers committed while this leader's own write is under way. */
  private applyCommittedNow(): void {
    if (this.raft.role !== 'leader') return; // the next Ready hands them out
    try {
      this.applyEntries(this.raft.takeCommitted());
    } catch (e) {
      this.fail(e);
    }
  }

  /** Reads whose ReadIndex a heartbeat round confirmed: served once that index is applied. */
  private noteReadStates(readStates: readonly ReadState[]): void {
    for (const rs of readStates) {
      const read = this.reads.get(rs.ctx);
      if (read) read.index = rs.index;
    }
    this.completeReads();
  }

  /** Stops the node for good after a storage or apply error; the owner is told through onFatal. */
  private fail(e: unknown): void {
    if (this.fatal) return;
    const err = new RaftFatalError(e);
    this.fatal = err;
    this.closed = true;
    this.stopTicker();
    this.o.logger.error('raft: stopping for good after a storage or apply error; restart to recover from disk', {
      error: err.message,
    });
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
    this.rejectQueued(err);
    this.failReads(err);
    this.failReseals(err);
    if (this.wasLeader) {
      this.wasLeader = false;
      this.o.onLeadershipChange?.(false);
    }
    this.o.onFatal?.(err);
    this.changes.emit('change');
  }

  private rejectWaiters(): void {
    for (const [index, w] of this.waiters) w.reject(new ProposalOutcomeUnknownError(index));
    this.waiters.clear();
  }

  private applyEntry(e: Entry): void {
    if (e.type === 'normal') this.o.sm.apply(e.index, e.data);
    else if (e.type === 'conf') this.raft.applyConfChange(decodeConfChange(e.data), e.index);
    const w = this.waiters.get(e.index);
    if (w) {
      this.waiters.delete(e.index);
      // An entry of another term at our index means our proposal was overwritten.
      if (e.term === w.term) {
        this.o.instruments?.proposalApplied?.((performance.now() - w.at) / 1000);
        w.resolve(e.index);
      } else w.reject(new NotLeaderError(this.raft.leader));
    }
  }

  /** Counts changes of the known leader (to another member, not to none) for monitoring. */
  private noticeLeaderChange(): void {
    const leader = this.leader;
    if (leader === '' || leader === this.lastLeader) return;
    this.lastLeader = leader;
    this.o.instruments?.leaderChanged?.();
  }

  private noticeLeadership(): void {
    const leader = this.raft.role === 'leader';
    if (leader === this.wasLeader) return;
    this.wasLeader = leader;
    if (!leader) {
      // Proposals already in the log may still commit under the next leader: their outcome is unknown.
      this.rejectWaiters();
      this.failReads(new NotLeaderError(this.raft.leader));
    }
    this.o.onLeadershipChange?.(leader);
  }

  /** Messages out; a snapshot message becomes a paced stream of parts of the newest snapshot file. */
  private sendMessages(msgs: readonly Message[]): void {
    const t = this.o.transport;
    if (!t) return;
    const plain = msgs.filter((m) => m.type !== 'snapshot');
    if (plain.length) t.send(plain);
    for (const m of msgs) {
      if (m.type !== 'snapshot' || this.streaming.has(m.to)) continue;
      this.streaming.add(m.to);
      this.streamSnapshot(t, m)
        .catch((e: unknown) => {
          this.o.logger.warn('raft: sending a snapshot failed', { to: m.to, error: String(e) });
          this.raft.reportSnapshotFailure(m.to);
        })
        .finally(() => this.streaming.delete(m.to));
    }
  }

  private async streamSnapshot(t: Transport, m: Extract<Message, { type: 'snapshot' }>): Promise<void> {
    const file = path.join(this.o.dir, snapshotFileName(m.snapshot.index, m.snapshot.term));
    // Plaintext on the wire (the link is TLS): the follower seals it with its own key.
    const reader = await readSnapshot(file, this.ring, this.fs);
    let prev: Uint8Array | undefined;
    let part = 0;
    const send = async (data: Uint8Array, last: boolean): Promise<void> => {
      // Paced by the link: wait for its 'drain' rather than polling the backlog.
      if (
        (t.backlog?.(m.to) ?? 0) > SNAPSHOT_MAX_BACKLOG &&
        t.whenDrained &&
        !(await t.whenDrained(m.to, SNAPSHOT_MAX_BACKLOG, 60_000))
      ) {
        throw new Error('the follower does not take the snapshot');
      }
      if (this.closed) throw new Error('stopping');
      t.send([{ ...m, data, part: part++, last }]);
      this.raft.reportSnapshotSent(m.to);
    };
    for await (const p of snapshotParts(reader, this.o.snapshotPartBytes ?? SNAPSHOT_PART_BYTES)) {
      if (prev) await send(prev, false);
      prev = p;
    }
    await send(prev ?? new Uint8Array(), true);
  }

  /** One part of a snapshot from the leader; the core sees the snapshot once every part is on disk. */
  private async receivePart(m: Extract<Message, { type: 'snapshot' }>): Promise<void> {
    if (this.closed) return;
    if (m.part === 0) {
      await this.incoming?.abort();
      const file = path.join(this.o.dir, `incoming-${m.snapshot.index}-${m.snapshot.term}-${++this.transfers}.tmp`);
      // One key for the whole transfer: installing it under a newer key rewrites it (installSnapshot).
      this.incoming = await IncomingSnapshot.begin(m.from, m.snapshot, file, this.ring.active, this.fs);
    }
    const inc = this.incoming;
    if (!inc || !inc.matches(m.from, m.snapshot)) return;
    if (!inc.add(m.part!, m.data ?? new Uint8Array())) {
      this.incoming = undefined;
      await inc.abort(); // a part went missing: the leader sends it all again
      return;
    }
    if (!m.last) return;
    this.incoming = undefined;
    await inc.finish();
    if (this.staged && this.staged !== inc) await this.staged.abort();
    this.staged = inc;
    this.raft.step({
      type: 'snapshot',
      from: m.from,
      to: m.to,
      term: m.term,
      snapshot: m.snapshot,
      data: new Uint8Array(),
    });
    this.kick();
  }

  /** A snapshot from the leader: store it, restore the state machine from it, restart the WAL there. */
  private async installSnapshot(s: SnapshotMeta & { data?: Uint8Array }): Promise<void> {
    const meta: SnapshotMeta = {
      index: s.index,
      term: s.term,
      voters: [...s.voters],
      learners: [...s.learners],
      removed: [...(s.removed ?? [])],
    };
    const file = path.join(this.o.dir, snapshotFileName(s.index, s.term));
    const staged = this.staged;
    if (staged && staged.meta.index === s.index && staged.meta.term === s.term) {
      // Streamed in parts and already sealed on disk: move it into place.
      this.staged = undefined;
      if (staged.cipher === this.ring.active) {
        await this.fs.rename(staged.file, file);
        await this.fs.syncDir(this.o.dir);
      } else {
        // Received while the key was replaced: rewritten under the key in use now.
        const old = await readSnapshot(staged.file, staged.cipher, this.fs);
        await writeSnapshot(file, meta, old.chunks(), this.ring, this.fs);
        await this.fs.rm(staged.file);
      }
    } else {
      await writeSnapshot(file, meta, payloadChunks(s.data ?? new Uint8Array()), this.ring, this.fs);
    }
    const reader = await readSnapshot(file, this.ring, this.fs);
    await this.o.sm.restore(s.index, reader.chunks());
    this.raft.appliedTo(s.index);
    await this.wal.cut(meta, this.raft.hardState(), []);
    this.snapshotIndex = s.index;
    // A reseal whose snapshot this one overtook takes another snapshot, so no older file is left.
    this.resealWaiters.push(...(this.pendingCut?.reseal?.waiters ?? []));
    this.pendingCut = undefined;
    this.installed++;
    await this.pruneSnapshots();
  }

  /**
   * Starts a snapshot of the applied state when due, or when a reseal waits for one; it is written
   * while Raft keeps running.
   */
  private maybeSnapshot(): void {
    const applied = this.raft.appliedIndex;
    if (this.closed || this.snapshotting || this.pendingCut) return;
    const reseal = this.resealWaiters.length > 0;
    if (!reseal && applied - this.snapshotIndex < this.o.snapshotInterval()) return;
    const term = this.raft.log.termAt(applied);
    if (term === undefined) return;
    const meta: SnapshotMeta = { index: applied, term, ...this.raft.confState() };
    const chunks = this.o.sm.snapshot(); // captured now, at `applied`
    this.snapshotting = true;
    const cut: PendingCut = {
      meta,
      reseal: reseal ? { waiters: this.resealWaiters.splice(0), keys: this.keySwitches } : undefined,
    };
    const file = path.join(this.o.dir, snapshotFileName(meta.index, meta.term));
    this.snapshotJob = writeSnapshot(file, meta, chunks, this.ring, this.fs)
      .then(
        () => {
          this.pendingCut = cut;
          this.kick();
        },
        (e: unknown) => {
          for (const w of cut.reseal?.waiters ?? []) w.reject(e);
          this.fail(new Error(`writing snapshot ${meta.index} failed: ${String(e)}`));
        },
      )
      .finally(() => {
        this.snapshotting = false;
      });
  }

  /**
   * The snapshot at `meta` is on disk: tell the WAL and drop the log before it. This runs between
   * appends, so it does only what must be ordered with them; old snapshot files go in the background.
   */
  private async cutAt({ meta, reseal }: PendingCut): Promise<void> {
    this.pendingCut = undefined;
    if (reseal) return this.resealAt(meta, reseal);
    if (meta.index <= this.snapshotIndex) return; // a snapshot from the leader got there first
    const tail = this.raft.log.slice(meta.index + 1, this.raft.log.lastIndex);
    await this.wal.snapshotTaken(meta, this.raft.hardState(), tail);
    this.raft.snapshotTaken(meta.index, this.o.keepEntries?.() ?? 500);
    this.snapshotIndex = meta.index;
    this.pruning = this.pruning
      .then(() => this.pruneSnapshots())
      .catch((e: unknown) => this.o.logger.warn('raft: removing old snapshots failed', { error: String(e) }));
  }

  /**
   * The reseal snapshot at `meta` is on disk under the active key: a fresh WAL segment starts there
   * (the older segments, sealed with older keys, go), then every older snapshot file. Only then are
   * the retired keys forgotten and the waiters told; a key switch meanwhile means another round.
   */
  private async resealAt(meta: SnapshotMeta, reseal: NonNullable<PendingCut['reseal']>): Promise<void> {
    // A snapshot installed from the leader after the switch already started a segment under the new key.
    if (meta.index >= this.snapshotIndex) {
      const tail = this.raft.log.slice(meta.index + 1, this.raft.log.lastIndex);
      await this.wal.cut(meta, this.raft.hardState(), tail);
      if (meta.index > this.snapshotIndex) this.raft.snapshotTaken(meta.index, this.o.keepEntries?.() ?? 500);
      this.snapshotIndex = meta.index;
    }
    await this.pruning;
    await this.pruneSnapshots(0);
    if (reseal.keys !== this.keySwitches) {
      this.resealWaiters.push(...reseal.waiters);
      return;
    }
    this.ring.forgetRetired();
    for (const w of reseal.waiters) w.resolve();
  }

  /** Keeps the newest snapshot plus KeepOldSnapshots older ones (or `older`). */
  private async pruneSnapshots(older?: number): Promise<void> {
    const snaps = (await this.fs.readdir(this.o.dir)).filter(isSnapshotFile).sort();
    const keep = 1 + Math.max(0, older ?? this.o.keepOldSnapshots?.() ?? 0);
    for (const f of snaps.slice(0, Math.max(0, snaps.length - keep))) await this.fs.rm(path.join(this.o.dir, f));
  }
}
