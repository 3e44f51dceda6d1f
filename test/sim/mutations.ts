/**
 * Planted bugs for mutation testing: each one is a mistake a Raft implementation can make, and the
 * simulator's checks must catch every one within the CI sweep (test/sim/sim.test.ts asserts it).
 * `plant(name)` patches the core or the node (RaftNode, RaftWal) and returns the undo; a lying
 * fsync is an option of the simulated disk instead.
 */
import { RaftLog } from '../../src/raft/log.js';
import { RaftNode } from '../../src/raft/node.js';
import { Raft, sendableBeforePersist } from '../../src/raft/raft.js';
import { NotLeaderError, type Message, type Ready } from '../../src/raft/types.js';
import type { Progress } from '../../src/raft/progress.js';
import { RaftWal } from '../../src/raft/wal.js';

/** The private parts of Raft a planted bug touches. */
interface RaftInternals {
  role: Raft['role'];
  id: string;
  term: number;
  commit: number;
  leader: string;
  log: RaftLog;
  voters: Set<string>;
  progress: Map<string, Progress>;
  readStates: { ctx: number; index: number }[];
  readCtx: number;
  quorum(): number;
  maybeCommit(): boolean;
  appendEntries(entries: unknown[]): void;
  handleAppend(m: Extract<Message, { type: 'append' }>): void;
  readIndex(): number;
}

export const CORE_MUTATIONS = [
  'vote-without-up-to-date-check',
  'snapshot-keeps-stale-log',
  'commit-earlier-term-by-counting',
  'leader-counts-itself-before-fsync',
  'follower-commit-to-last-index',
  'read-index-without-heartbeat-quorum',
  'read-index-without-term-check',
] as const;

/** Bugs in the wrapper around the core (RaftNode, its WAL, its disk). */
export const WRAPPER_MUTATIONS = ['send-before-sync', 'continue-after-fsync-error', 'lying-fsync'] as const;

export type Mutation = (typeof CORE_MUTATIONS)[number] | (typeof WRAPPER_MUTATIONS)[number];

export const isMutation = (s: string): s is Mutation =>
  (CORE_MUTATIONS as readonly string[]).includes(s) || (WRAPPER_MUTATIONS as readonly string[]).includes(s);

const proto = Raft.prototype as unknown as RaftInternals;

/** The private parts a planted wrapper bug replaces. */
interface NodeInternals {
  fail(e: unknown): void;
}
interface WalInternals {
  fh: { datasync(): Promise<void> } | undefined;
  guarded(fn: (fh: unknown) => Promise<void>): Promise<void>;
}

/**
 * Where 'send-before-sync' sends a Ready's answers the moment it is handed out, before its write
 * (the simulation sets it: it knows which process owns the core). RaftNode sends them again later.
 */
let early: ((raft: Raft, msgs: Message[]) => void) | undefined;
export function setEarlySender(send: ((raft: Raft, msgs: Message[]) => void) | undefined): void {
  early = send;
}

/** Patches the named bug in; returns the undo. 'lying-fsync' patches nothing (a disk option). */
export function plant(m: Mutation): () => void {
  switch (m) {
    case 'vote-without-up-to-date-check': {
      const original = RaftLog.prototype.isUpToDate;
      RaftLog.prototype.isUpToDate = () => true;
      return () => void (RaftLog.prototype.isUpToDate = original);
    }
    case 'snapshot-keeps-stale-log': {
      const original = RaftLog.prototype.resetTo;
      RaftLog.prototype.resetTo = function (this: RaftLog, index: number, term: number): void {
        // The boundary moves but the old entries stay, now misnumbered.
        const self = this as unknown as { offset: number; offsetTerm: number };
        self.offset = index;
        self.offsetTerm = term;
      };
      return () => void (RaftLog.prototype.resetTo = original);
    }
    case 'commit-earlier-term-by-counting': {
      const original = proto.maybeCommit;
      proto.maybeCommit = function (this: RaftInternals): boolean {
        // Figure 8: no check that the entry is of the current term.
        const matches = [...this.voters].map((id) => this.progress.get(id)?.match ?? 0).sort((a, b) => b - a);
        const candidate = matches[this.quorum() - 1] ?? 0;
        if (candidate <= this.commit) return false;
        this.commit = candidate;
        return true;
      };
      return () => void (proto.maybeCommit = original);
    }
    case 'leader-counts-itself-before-fsync': {
      const original = proto.appendEntries;
      proto.appendEntries = function (this: RaftInternals, entries: unknown[]): void {
        original.call(this, entries);
        if (this.role === 'leader') this.progress.get(this.id)?.maybeUpdate(this.log.lastIndex);
      };
      return () => void (proto.appendEntries = original);
    }
    case 'follower-commit-to-last-index': {
      const original = proto.handleAppend;
      proto.handleAppend = function (this: RaftInternals, msg: Extract<Message, { type: 'append' }>): void {
        original.call(this, msg);
        // Capped at the end of the log, which may hold a stale suffix the append did not cover.
        if (this.log.termAt(msg.prevIndex) === msg.prevTerm && msg.commit > this.commit)
          this.commit = Math.min(msg.commit, this.log.lastIndex);
      };
      return () => void (proto.handleAppend = original);
    }
    case 'read-index-without-heartbeat-quorum': {
      const original = proto.readIndex;
      proto.readIndex = function (this: RaftInternals): number {
        if (this.role !== 'leader') throw new NotLeaderError(this.leader);
        if (this.log.termAt(this.commit) !== this.term) throw new NotLeaderError('');
        const ctx = ++this.readCtx;
        this.readStates.push({ ctx, index: this.commit });
        return ctx;
      };
      return () => void (proto.readIndex = original);
    }
    case 'read-index-without-term-check': {
      const original = proto.readIndex;
      proto.readIndex = function (this: RaftInternals): number {
        const self = this as unknown as { log: RaftLog; commit: number; term: number };
        const saved = self.log.termAt.bind(self.log);
        // Pretend the commit index is of this term, just for the check.
        self.log.termAt = (i: number) => (i === self.commit ? self.term : saved(i));
        try {
          return original.call(this);
        } finally {
          delete (self.log as unknown as { termAt?: unknown }).termAt;
        }
      };
      return () => void (proto.readIndex = original);
    }
    case 'send-before-sync': {
      const original = Raft.prototype.ready;
      Raft.prototype.ready = function (this: Raft): Ready {
        const role = this.role;
        const r = original.call(this);
        const late = r.messages.filter((m) => !sendableBeforePersist(m, role) && m.type !== 'snapshot');
        if (late.length) early?.(this, late);
        return r;
      };
      return () => void (Raft.prototype.ready = original);
    }
    case 'continue-after-fsync-error': {
      // The old RaftNode: a failed write is logged and processing carries on with the next Ready
      // (and the WAL keeps appending behind the failed record).
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
    case 'lying-fsync':
      return () => undefined;
  }
}
