/**
 * The Raft consensus core, as a pure state machine: `tick()` and `step(message)` change state and
 * queue outputs; `ready()` hands them out (hard state and entries to persist, messages to send,
 * entries to apply, linearizable read points) and `advance()` reports them persisted. No clock, no
 * I/O: the same inputs give the same outputs, so a simulator can drive a whole cluster from a seed.
 *
 * Implemented: elections with randomized timeouts, pre-vote, check-quorum with leader lease,
 * replication with the consistency check and fast back-off, pipelined appends with flow control,
 * commit only of current-term entries (by counting), ReadIndex, leader transfer, one-at-a-time
 * membership changes (applied when committed), learners, log compaction behind snapshots the wrapper
 * takes, and InstallSnapshot for a follower that needs compacted entries.
 */
import type { Random } from '../common/random.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import {
  ConfChangeInProgressError,
  NotLeaderError,
  type ConfChange,
  type Entry,
  type EntryType,
  type HardState,
  type MemberId,
  type Message,
  type ReadState,
  type Ready,
  type Role,
  type SnapshotMeta,
} from './types.js';

export interface RaftConfig {
  id: MemberId;
  /** Voting members, including this one, at bootstrap (ignored when restoring a conf from the log). */
  voters: MemberId[];
  learners?: MemberId[];
  electionTick: number;
  heartbeatTick: number;
  random: Random;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxEntriesPerMsg?: number;
  maxInflight?: number;
}

export interface RestoredState {
  hardState: HardState;
  /** Entries after the snapshot, in order. */
  entries: Entry[];
  /** The last entry the snapshot covers (its state is already applied), with the membership then. */
  snapshot?: {
    index: number;
    term: number;
    voters?: readonly MemberId[];
    learners?: readonly MemberId[];
    removed?: readonly MemberId[];
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(cc));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  return JSON.parse(decoder.decode(data)) as ConfChange;
}

interface PendingRead {
  ctx: number;
  index: number;
  acks: Set<MemberId>;
}

export class Raft {
  readonly id: MemberId;
  term = 0;
  vote: MemberId | '' = '';
  role: Role = 'follower';
  leader: MemberId | '' = '';
  commit = 0;
  readonly log: RaftLog;
  voters: Set<MemberId>;
  /** maybeCommit's working array, kept between calls. */
  private readonly matchScratch: number[] = [];
  learners: Set<MemberId>;
  /**
   * Members taken out of the group (by a committed removal or a forced new cluster). Their messages
   * are refused: a removed manager that comes back with its old log must not disrupt the group, nor
   * form a group of its own with the other former members unnoticed.
   */
  removed = new Set<MemberId>();
  readonly progress = new Map<MemberId, Progress>();

  /** Entries the wrapper has applied (reported by appliedTo), and entries handed out to apply. */
  private applied = 0;
  private applying = 0;
  private persistedIndex = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedTimeout = 0;
  private ticks = 0;
  private votes = new Map<MemberId, boolean>();
  private transferee: MemberId | '' = '';
  private pendingConfIndex = 0;
  private ignoreConfThrough = 0;
  private readCtx = 0;
  private pendingReads: PendingRead[] = [];
  /** The newest snapshot the wrapper holds (what a lagging follower is sent). */
  private snapshot: SnapshotMeta | undefined;
  /** A snapshot received from the leader, waiting to be handed out in ready(). */
  private incomingSnapshot: (SnapshotMeta & { data?: Uint8Array }) | undefined;

  // Outputs waiting for ready().
  private msgs: Message[] = [];
  private unstable: Entry[] = [];
  private readStates: ReadState[] = [];
  private lastHardState: HardState = { term: 0, vote: '', commit: 0 };

  private readonly cfg: Required<Omit<RaftConfig, 'learners'>>;

  constructor(config: RaftConfig, restored?: RestoredState) {
    this.cfg = { preVote: true, checkQuorum: true, maxEntriesPerMsg: 64, maxInflight: 256, ...config };
    this.id = config.id;
    this.voters = new Set(config.voters);
    this.learners = new Set(config.learners ?? []);
    this.log = new RaftLog(restored?.snapshot?.index ?? 0, restored?.snapshot?.term ?? 0);
    this.applied = restored?.snapshot?.index ?? 0;
    this.applying = this.applied;
    this.persistedIndex = this.applied;
    const snap = restored?.snapshot;
    if (snap && snap.index > 0) {
      if (snap.voters) this.voters = new Set(snap.voters);
      if (snap.learners) this.learners = new Set(snap.learners);
      if (snap.removed) this.removed = new Set(snap.removed);
      this.snapshot = { index: snap.index, term: snap.term, ...this.confState() };
    }
    if (restored) {
      this.term = restored.hardState.term;
      this.vote = restored.hardState.vote;
      for (const e of restored.entries) this.log.append(e);
      this.commit = Math.max(this.applied, Math.min(restored.hardState.commit, this.log.lastIndex));
      this.persistedIndex = this.log.lastIndex;
      // Membership is replayed from the conf entries of the log (applied ones re-applied on commit).
      this.lastHardState = { ...restored.hardState };
    }
    this.becomeFollower(this.term, '');
  }

  // ---------- inputs ----------

  tick(): void {
    this.ticks++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /** Proposes a normal entry; returns its index. Throws NotLeaderError off the leader. */
  propose(data: Uint8Array, type: EntryType = 'normal'): number {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader);
    if (this.transferee) throw new NotLeaderError('');
    if (type === 'conf') {
      // Pending until the wrapper has applied it: handed out in a Ready is not yet in force.
      if (this.pendingConfIndex > this.applied) throw new ConfChangeInProgressError();
      this.pendingConfIndex = this.log.lastIndex + 1;
    }
    const e: Entry = { term: this.term, index: this.log.lastIndex + 1, type, data };
    this.appendEntries([e]);
    this.broadcastAppend();
    return e.index;
  }

  /**
   * Proposes several normal entries at once (what arrived while the wrapper was busy): each
   * follower gets them in as few appends as flow control allows, not one append per entry. Returns
   * the index of the first. Throws NotLeaderError off the leader.
   */
  proposeAll(data: readonly Uint8Array[]): number {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader);
    if (this.transferee) throw new NotLeaderError('');
    const first = this.log.lastIndex + 1;
    this.appendEntries(data.map((d, i) => ({ term: this.term, index: first + i, type: 'normal', data: d })));
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      while (this.sendAppend(id) && pr.state === 'replicate' && pr.next <= this.log.lastIndex) {
        // more than one append's worth: pipeline until flow control stops us
      }
    }
    return first;
  }

  proposeConfChange(cc: ConfChange): number {
    return this.propose(encodeConfChange(cc), 'conf');
  }

  /** A linearizable read: returns a ctx; a ReadState with that ctx comes out of ready() once confirmed. */
  readIndex(): number {
    if (this.role !== 'leader') throw new NotLeaderError(this.leader);
    // A new leader must commit an entry of its term before it knows the commit index is current.
    if (this.log.termAt(this.commit) !== this.term) throw new NotLeaderError('');
    const ctx = ++this.readCtx;
    if (this.quorum() === 1) {
      this.readStates.push({ ctx, index: this.commit });
      return ctx;
    }
    this.pendingReads.push({ ctx, index: this.commit, acks: new Set([this.id]) });
    for (const id of this.voters) if (id !== this.id) this.sendHeartbeat(id, ctx);
    return ctx;
  }

  transferLeadership(to: MemberId): void {
    if (this.role !== 'leader' || to === this.id || !this.voters.has(to)) return;
    this.transferee = to;
    this.electionElapsed = 0;
    const pr = this.progress.get(to);
    if (pr && pr.match === this.log.lastIndex) this.send({ type: 'timeoutNow', from: this.id, to, term: this.term });
    else this.sendAppend(to);
  }

  /**
   * Recovery from a lost quorum (`swarm init --force-new-cluster`): this member becomes the only
   * voter, and membership changes already in its log are not applied again (the caller then
   * proposes the removal of every former member, which makes the new membership durable).
   */
  forceSoleVoter(): void {
    for (const id of [...this.voters, ...this.learners]) if (id !== this.id) this.removed.add(id);
    this.voters = new Set([this.id]);
    this.learners = new Set();
    this.ignoreConfThrough = this.log.lastIndex;
    this.becomeFollower(this.term, '');
  }

  /** Applies a committed membership change (called by the wrapper when it applies the conf entry). */
  applyConfChange(cc: ConfChange, index?: number): void {
    if (index !== undefined && index <= this.ignoreConfThrough) return;
    if (cc.kind === 'remove') {
      if (cc.member !== this.id) this.removed.add(cc.member);
    } else {
      this.removed.delete(cc.member); // a demoted manager promoted again
    }
    if (cc.kind === 'add') {
      this.learners.delete(cc.member);
      this.voters.add(cc.member);
      // A learner made a voter keeps its replication state; from now on its acks count.
      const pr = this.progress.get(cc.member);
      if (pr) pr.learner = false;
    } else if (cc.kind === 'addLearner') {
      if (!this.voters.has(cc.member)) this.learners.add(cc.member);
    } else {
      this.voters.delete(cc.member);
      this.learners.delete(cc.member);
      this.progress.delete(cc.member);
    }
    if (this.role === 'leader') {
      for (const id of [...this.voters, ...this.learners]) {
        if (!this.progress.has(id)) {
          const pr = new Progress(this.log.lastIndex + 1, this.learners.has(id));
          this.progress.set(id, pr);
          this.sendAppend(id);
        }
      }
      if (!this.voters.has(this.id)) {
        // Removed itself: stop leading once the change is committed.
        this.becomeFollower(this.term, '');
        return;
      }
      this.maybeCommit();
    }
  }

  step(m: Message): void {
    if (this.removed.has(m.from)) {
      if (m.type !== 'removed') this.send({ type: 'removed', from: this.id, to: m.from, term: this.term });
      return;
    }
    if (m.type === 'probe' || m.type === 'removed') return; // for the wrapper; nothing for the core
    if (m.term > this.term) {
      if (m.type === 'preVote' || m.type === 'vote') {
        const inLease = this.cfg.checkQuorum && this.leader !== '' && this.electionElapsed < this.cfg.electionTick;
        if (inLease && !m.transfer) return; // A disruptive node; our leader is alive.
      }
      if (m.type === 'preVote') {
        // Never change term for a pre-vote.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // A granted pre-vote carries the future term.
      } else {
        const leader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot' ? m.from : '';
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot')
      ) {
        // Tell a stale leader about the new term so it steps down.
        this.send({
          type: 'appendResp',
          from: this.id,
          to: m.from,
          term: this.term,
          reject: true,
          index: 0,
          hintIndex: 0,
          hintTerm: 0,
        });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'preVote':
      case 'vote': {
        const canVote =
          m.type === 'preVote'
            ? m.term > this.term || this.vote === '' || this.vote === m.from
            : this.vote === '' || this.vote === m.from;
        const grant =
          canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm) && (m.type === 'preVote' || this.role !== 'leader');
        const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
        // A granted pre-vote echoes the proposed term; a rejection carries our own term, so it only
        // moves the candidate when we really are ahead of it.
        const term = m.type === 'preVote' && grant ? m.term : this.term;
        this.send({ type: respType, from: this.id, to: m.from, term, reject: !grant });
        if (grant && m.type === 'vote') {
          this.vote = m.from;
          this.electionElapsed = 0;
        }
        return;
      }
      case 'preVoteResp':
      case 'voteResp':
        this.handleVoteResp(m.type, m.from, m.reject);
        return;
      case 'append':
        this.becomeFollowerOf(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollowerOf(m.from);
        if (m.commit > this.commit) this.commit = Math.min(m.commit, this.log.lastIndex);
        this.send({ type: 'heartbeatResp', from: this.id, to: m.from, term: this.term, ctx: m.ctx });
        return;
      case 'appendResp':
        if (this.role === 'leader') this.handleAppendResp(m);
        return;
      case 'heartbeatResp':
        if (this.role === 'leader') this.handleHeartbeatResp(m.from, m.ctx);
        return;
      case 'timeoutNow':
        if (this.voters.has(this.id)) this.campaign(true);
        return;
      case 'snapshot':
        this.becomeFollowerOf(m.from);
        this.handleSnapshot(m);
        return;
    }
  }

  // ---------- outputs ----------

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.unstable.length > 0 ||
      this.readStates.length > 0 ||
      this.incomingSnapshot !== undefined ||
      this.commit > this.applying ||
      !sameHardState(this.hardState(), this.lastHardState)
    );
  }

  ready(): Ready {
    const hs = this.hardState();
    const changed = !sameHardState(hs, this.lastHardState);
    const r: Ready = {
      hardState: changed ? hs : undefined,
      ...(this.incomingSnapshot ? { snapshot: this.incomingSnapshot } : {}),
      entries: this.unstable,
      messages: this.msgs,
      committed: this.log.slice(this.applying + 1, this.commit),
      readStates: this.readStates,
    };
    this.msgs = [];
    this.unstable = [];
    this.readStates = [];
    this.incomingSnapshot = undefined;
    if (changed) this.lastHardState = hs;
    this.applying = Math.max(this.applying, r.committed.at(-1)?.index ?? this.applying);
    return r;
  }

  /**
   * Hands out what was committed since the last Ready (the followers answered while the leader's own
   * write was under way) for the wrapper to apply now; the next Ready does not repeat them.
   */
  takeCommitted(): Entry[] {
    if (this.incomingSnapshot !== undefined) return [];
    const entries = this.log.slice(this.applying + 1, this.commit);
    this.applying = Math.max(this.applying, entries.at(-1)?.index ?? this.applying);
    return entries;
  }

  /**
   * The wrapper applied the committed entries handed out so far up to `index`. Only now do they
   * count as applied (for the one-membership-change-at-a-time check and for snapshots): a Ready's
   * entries whose apply failed or has not run yet are not.
   */
  appliedTo(index: number): void {
    this.applied = Math.max(this.applied, Math.min(index, this.applying));
  }

  /**
   * The wrapper persisted a Ready's entries up to `index`, the last of which has `term`: the leader
   * may now count itself. If that entry was replaced meanwhile (a later append truncated it while
   * the write was in flight), the write no longer vouches for what the log holds there.
   */
  advance(persistedUpTo: number, term?: number): void {
    if (term !== undefined && this.log.termAt(persistedUpTo) !== term) return;
    this.persistedIndex = Math.max(this.persistedIndex, Math.min(persistedUpTo, this.log.lastIndex));
    if (this.role === 'leader') {
      this.progress.get(this.id)?.maybeUpdate(this.persistedIndex);
      if (this.maybeCommit()) this.broadcastAppend();
    }
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  /** Drops log entries up to index (their state is in a snapshot the wrapper wrote). */
  compact(index: number): void {
    this.log.compact(Math.min(index, this.applied));
  }

  /**
   * The wrapper wrote a snapshot of the state machine at `index` (applied, so its membership is the
   * current one): lagging followers will be sent it. Entries up to `index - keepEntries` are dropped;
   * the rest stay so a follower a little behind still gets entries (LogEntriesForSlowFollowers).
   */
  snapshotTaken(index: number, keepEntries: number): SnapshotMeta {
    if (index > this.applied) throw new Error(`raft: snapshot at ${index} beyond applied ${this.applied}`);
    const term = this.log.termAt(index);
    if (term === undefined) throw new Error(`raft: snapshot at ${index} outside the log`);
    this.snapshot = { index, term, ...this.confState() };
    this.compact(index - Math.max(0, keepEntries));
    return this.snapshot;
  }

  /** Membership now, to be stored with a snapshot. */
  confState(): { voters: MemberId[]; learners: MemberId[]; removed: MemberId[] } {
    return { voters: [...this.voters], learners: [...this.learners], removed: [...this.removed] };
  }

  /**
   * The wrapper handed (a part of) a snapshot to the transport just now. The resend timeout counts
   * from here, not from when the message was created: a large snapshot streamed for longer than an
   * election timeout must not be sent again while it is still going out.
   */
  reportSnapshotSent(to: MemberId): void {
    const pr = this.progress.get(to);
    if (pr?.state === 'snapshot') pr.snapshotSentTick = this.ticks;
  }

  /** The wrapper could not deliver a snapshot: go back to probing (and send it again). */
  reportSnapshotFailure(to: MemberId): void {
    const pr = this.progress.get(to);
    if (pr?.state === 'snapshot') pr.becomeProbe();
  }

  get appliedIndex(): number {
    return this.applied;
  }

  /** Ticks since each member was last heard from (leader only), for Reachable/Unreachable. */
  lastContact(member: MemberId): number | undefined {
    const pr = this.progress.get(member);
    return pr ? this.ticks - pr.lastContactTick : undefined;
  }

  // ---------- roles ----------

  private resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedTimeout = this.cfg.electionTick + this.cfg.random.int(this.cfg.electionTick);
  }

  private becomeFollower(term: number, leader: MemberId | ''): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = '';
    }
    this.role = 'follower';
    this.leader = leader;
    this.transferee = '';
    this.pendingReads = [];
    this.resetTimers();
  }

  private becomeFollowerOf(leader: MemberId): void {
    if (this.role !== 'follower' || this.leader !== leader) this.becomeFollower(this.term, leader);
    this.electionElapsed = 0;
  }

  private campaign(transfer = false): void {
    if (!this.voters.has(this.id)) return;
    const pre = this.cfg.preVote && !transfer;
    this.votes = new Map([[this.id, true]]);
    if (pre) {
      this.role = 'preCandidate';
      this.leader = '';
      this.resetTimers();
    } else {
      this.becomeFollower(this.term + 1, '');
      this.role = 'candidate';
      this.vote = this.id;
    }
    if (this.quorum() === 1) {
      if (pre) this.campaign(true);
      else this.becomeLeader();
      return;
    }
    const term = pre ? this.term + 1 : this.term;
    for (const id of this.voters) {
      if (id === this.id) continue;
      this.send({
        type: pre ? 'preVote' : 'vote',
        from: this.id,
        to: id,
        term,
        lastIndex: this.log.lastIndex,
        lastTerm: this.log.lastTerm,
        transfer,
      });
    }
  }

  private handleVoteResp(type: 'preVoteResp' | 'voteResp', from: MemberId, reject: boolean): void {
    if ((type === 'preVoteResp' && this.role !== 'preCandidate') || (type === 'voteResp' && this.role !== 'candidate'))
      return;
    this.votes.set(from, !reject);
    const granted = [...this.votes.entries()].filter(([id, v]) => v && this.voters.has(id)).length;
    const rejected = [...this.votes.entries()].filter(([id, v]) => !v && this.voters.has(id)).length;
    if (granted >= this.quorum()) {
      if (this.role === 'preCandidate') this.campaign(true);
      else this.becomeLeader();
    } else if (rejected >= this.quorum()) {
      this.becomeFollower(this.term, '');
    }
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.leader = this.id;
    this.resetTimers();
    this.progress.clear();
    for (const id of [...this.voters, ...this.learners]) {
      const pr = new Progress(this.log.lastIndex + 1, this.learners.has(id));
      pr.recentActive = true;
      pr.lastContactTick = this.ticks;
      this.progress.set(id, pr);
    }
    this.progress.get(this.id)?.maybeUpdate(this.persistedIndex);
    // Conservatively assume a conf change may be pending in the uncommitted tail.
    this.pendingConfIndex = this.log.lastIndex;
    // A no-op of the new term lets earlier entries commit (Raft §5.4.2).
    this.appendEntries([{ term: this.term, index: this.log.lastIndex + 1, type: 'noop', data: new Uint8Array() }]);
    this.broadcastAppend();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedTimeout && this.voters.has(this.id)) {
      this.campaign();
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        const active = [...this.voters].filter((id) => id === this.id || this.progress.get(id)?.recentActive).length;
        for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
        if (active < this.quorum()) {
          this.becomeFollower(this.term, '');
          return;
        }
      }
      if (this.transferee) this.transferee = ''; // transfer timed out
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      for (const id of this.progress.keys()) if (id !== this.id) this.sendHeartbeat(id, 0);
    }
  }

  // ---------- replication ----------

  private appendEntries(entries: Entry[]): void {
    for (const e of entries) this.log.append(e);
    this.unstable.push(...entries);
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /**
   * Sends what a follower is missing, within flow control; returns whether something was sent.
   * `evenIfEmpty`: send an entry-less append too, as a probe (a follower that lacks prevIndex rejects
   * it, which is how the leader learns that appends it pipelined were lost).
   */
  private sendAppend(to: MemberId, evenIfEmpty = false): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused(this.cfg.maxInflight)) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.termAt(prevIndex);
    if (prevTerm === undefined || prevIndex < this.log.compactedTo.index) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(pr.next, this.log.lastIndex, this.cfg.maxEntriesPerMsg);
    if (entries.length === 0 && pr.state === 'replicate' && !evenIfEmpty) return false;
    this.send({
      type: 'append',
      from: this.id,
      to,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.commit,
    });
    if (pr.state === 'replicate' && entries.length > 0) {
      const last = entries.at(-1)!.index;
      pr.next = last + 1;
      pr.inflight.push(last);
    } else if (pr.state === 'probe') {
      pr.paused = true;
    }
    return true;
  }

  /** The follower needs entries that were compacted away: send it the newest snapshot instead. */
  private sendSnapshot(to: MemberId, pr: Progress): boolean {
    const snap = this.snapshot;
    if (!snap) throw new Error(`raft: entries before ${this.log.firstIndex} are gone but no snapshot is known`);
    pr.becomeSnapshot(snap.index, this.ticks);
    this.send({ type: 'snapshot', from: this.id, to, term: this.term, snapshot: snap });
    return true;
  }

  private handleSnapshot(m: Extract<Message, { type: 'snapshot' }>): void {
    const s = m.snapshot;
    const reply = (index: number): void =>
      this.send({
        type: 'appendResp',
        from: this.id,
        to: m.from,
        term: this.term,
        reject: false,
        index,
        hintIndex: 0,
        hintTerm: 0,
      });
    if (s.index <= this.commit) {
      reply(this.commit);
      return;
    }
    if (this.log.termAt(s.index) === s.term) {
      // We hold the entry it ends at: it is committed, so just move the commit index (etcd does so too).
      this.commit = s.index;
      reply(this.commit);
      return;
    }
    if (m.data === undefined) return; // the wrapper lost the payload; the leader will resend
    this.log.resetTo(s.index, s.term);
    this.unstable = [];
    this.commit = s.index;
    // Handed out (in the next Ready), not applied: until the wrapper has restored its state machine
    // from it (appliedTo), a snapshot taken or a read served here would see the old state.
    this.applying = s.index;
    this.persistedIndex = s.index;
    this.voters = new Set(s.voters);
    this.learners = new Set(s.learners);
    this.removed = new Set(s.removed ?? []);
    this.snapshot = { index: s.index, term: s.term, ...this.confState() };
    this.incomingSnapshot = { ...s, data: m.data };
    this.pendingConfIndex = 0;
    reply(s.index);
  }

  private sendHeartbeat(to: MemberId, ctx: number): void {
    const pr = this.progress.get(to);
    const commit = Math.min(pr?.match ?? 0, this.commit);
    this.send({ type: 'heartbeat', from: this.id, to, term: this.term, commit, ctx });
  }

  private handleAppend(m: Extract<Message, { type: 'append' }>): void {
    const reply = (reject: boolean, index: number, hintIndex = 0, hintTerm = 0): void =>
      this.send({ type: 'appendResp', from: this.id, to: m.from, term: this.term, reject, index, hintIndex, hintTerm });
    if (m.prevIndex < this.commit) {
      reply(false, this.commit);
      return;
    }
    const localPrevTerm = this.log.termAt(m.prevIndex);
    if (localPrevTerm !== m.prevTerm) {
      // Fast back-off: the last index at or before the probe whose term is not newer than the leader's.
      let hint = Math.min(m.prevIndex, this.log.lastIndex);
      while (hint > 0 && (this.log.termAt(hint) ?? 0) > m.prevTerm) hint--;
      reply(true, m.prevIndex, hint, this.log.termAt(hint) ?? 0);
      return;
    }
    for (const e of m.entries) {
      const t = this.log.termAt(e.index);
      if (t === e.term) continue; // already there
      if (t !== undefined) {
        // A conflicting suffix from an older term: drop it (never a committed entry, Raft §5.3).
        if (e.index <= this.commit) throw new Error(`raft: conflict at committed index ${e.index}`);
        this.log.truncateFrom(e.index);
        this.unstable = this.unstable.filter((u) => u.index < e.index);
        this.persistedIndex = Math.min(this.persistedIndex, e.index - 1);
      }
      this.appendEntries([e]);
    }
    const lastNew = m.prevIndex + m.entries.length;
    if (m.commit > this.commit) this.commit = Math.min(m.commit, lastNew);
    reply(false, lastNew);
  }

  private handleAppendResp(m: Extract<Message, { type: 'appendResp' }>): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.lastContactTick = this.ticks;
    if (m.reject) {
      let hint = m.hintIndex;
      if (m.hintTerm > 0) {
        while (hint > 0 && (this.log.termAt(hint) ?? 0) > m.hintTerm) hint--;
      }
      if (pr.maybeDecrease(m.index, hint)) this.sendAppend(m.from);
      return;
    }
    if (m.index > this.log.lastIndex) return; // cannot acknowledge what we never sent
    const wasPaused = pr.isPaused(this.cfg.maxInflight);
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === 'probe' || (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot)) pr.becomeReplicate();
      if (this.maybeCommit()) this.broadcastAppend();
      else if (wasPaused || pr.next <= this.log.lastIndex) this.sendAppend(m.from);
      while (pr.next <= this.log.lastIndex && this.sendAppend(m.from)) {
        // pipeline until flow control stops us
      }
      if (m.from === this.transferee && pr.match === this.log.lastIndex) {
        this.send({ type: 'timeoutNow', from: this.id, to: m.from, term: this.term });
      }
    } else if (pr.state === 'replicate' && pr.next <= this.log.lastIndex) {
      this.sendAppend(m.from);
    }
  }

  private handleHeartbeatResp(from: MemberId, ctx: number): void {
    const pr = this.progress.get(from);
    if (!pr) return;
    pr.recentActive = true;
    pr.lastContactTick = this.ticks;
    pr.paused = false;
    // A full pipeline whose appends were all lost would never drain: start again from the match.
    if (pr.state === 'replicate' && pr.isPaused(this.cfg.maxInflight)) pr.becomeProbe();
    // A snapshot unanswered for an election timeout was lost (or its install failed): send it again.
    if (pr.state === 'snapshot' && this.ticks - pr.snapshotSentTick >= this.cfg.electionTick) pr.becomeProbe();
    if (pr.match < this.log.lastIndex) this.sendAppend(from, true);
    if (ctx <= 0 || !this.voters.has(from)) return;
    for (const r of this.pendingReads) if (r.ctx <= ctx) r.acks.add(from);
    while (this.pendingReads.length > 0 && this.pendingReads[0]!.acks.size >= this.quorum()) {
      const r = this.pendingReads.shift()!;
      this.readStates.push({ ctx: r.ctx, index: r.index });
    }
  }

  private quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** Commits the highest index a quorum of voters holds, if it is of the current term (§5.4.2). */
  private maybeCommit(): boolean {
    // Runs on every acknowledgement: the voters' matches, highest first, by insertion into a reused
    // array rather than copy, map and sort (about 7% of a leader's allocations at 1 writer, sampled;
    // each scavenge of the young heap stalls the write in flight).
    const matches = this.matchScratch;
    matches.length = 0;
    for (const id of this.voters) {
      const v = this.progress.get(id)?.match ?? 0;
      let i = matches.length;
      matches.push(v);
      for (; i > 0 && matches[i - 1]! < v; i--) matches[i] = matches[i - 1]!;
      matches[i] = v;
    }
    const candidate = matches[this.quorum() - 1] ?? 0;
    if (candidate > this.commit && this.log.termAt(candidate) === this.term) {
      this.commit = candidate;
      return true;
    }
    return false;
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }
}

/**
 * Messages a leader may send before its own Ready is on disk: its appends and heartbeats. The leader
 * counts itself towards a commit only once persisted (advance), so writing its log in parallel with
 * the followers' is safe (Raft thesis 10.2.1) and takes one fsync off every commit. Everything else
 * (vote answers, append answers) waits for the disk.
 */
export function sendableBeforePersist(m: Message, role: Role): boolean {
  return role === 'leader' && (m.type === 'append' || m.type === 'heartbeat');
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
