/**
 * Raft's vocabulary: entries, persistent state and messages. The core is a pure state machine over
 * these (messages and ticks in, a Ready batch out); storage, network and timers live outside it.
 */
export type MemberId = string;

export type EntryType = 'normal' | 'noop' | 'conf';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Opaque payload; for `conf` entries a ConfChange encoded as JSON. */
  readonly data: Uint8Array;
}

export interface ConfChange {
  readonly kind: 'add' | 'remove' | 'addLearner';
  readonly member: MemberId;
}

/** The point a snapshot covers and the membership at that point (conf entries before it are gone). */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly voters: readonly MemberId[];
  readonly learners: readonly MemberId[];
  /** Members removed from the group (their messages are refused; they are told so). */
  readonly removed?: readonly MemberId[];
}

/** What must be on disk before any message of the same Ready is sent. */
export interface HardState {
  term: number;
  vote: MemberId | '';
  commit: number;
}

interface Base {
  readonly from: MemberId;
  readonly to: MemberId;
  readonly term: number;
}

export type Message =
  | (Base & {
      readonly type: 'preVote' | 'vote';
      readonly lastIndex: number;
      readonly lastTerm: number;
      readonly transfer?: boolean;
    })
  | (Base & { readonly type: 'preVoteResp' | 'voteResp'; readonly reject: boolean })
  | (Base & {
      readonly type: 'append';
      readonly prevIndex: number;
      readonly prevTerm: number;
      readonly entries: readonly Entry[];
      readonly commit: number;
    })
  | (Base & {
      readonly type: 'appendResp';
      readonly reject: boolean;
      /** Accepted: the last index now matching. Rejected: the index that was probed. */
      readonly index: number;
      /** Rejected: where the follower's log could match (fast back-off). */
      readonly hintIndex: number;
      readonly hintTerm: number;
    })
  | (Base & { readonly type: 'heartbeat'; readonly commit: number; readonly ctx: number })
  | (Base & { readonly type: 'heartbeatResp'; readonly ctx: number })
  | (Base & { readonly type: 'timeoutNow' })
  /** Sent by a member at start to every peer: a peer that removed it answers `removed`. */
  | (Base & { readonly type: 'probe' })
  /** "You are no longer a member of my group": the answer to any message from a removed member. */
  | (Base & { readonly type: 'removed' })
  /**
   * InstallSnapshot. The core names the snapshot; the node wrapper attaches (or streams) the state
   * machine's bytes, which reach the receiving wrapper in Ready.snapshot.
   */
  | (Base & {
      readonly type: 'snapshot';
      readonly snapshot: SnapshotMeta;
      readonly data?: Uint8Array;
      /** Between node wrappers: the snapshot travels in numbered parts; the core sees it once, whole. */
      readonly part?: number;
      readonly last?: boolean;
    });

export type MessageType = Message['type'];

export interface ReadState {
  /** The caller's request id. */
  readonly ctx: number;
  /** Reads are linearizable once the local state machine has applied this index. */
  readonly index: number;
}

/** One batch of work for the node wrapper: persist, then send, then apply. */
export interface Ready {
  readonly hardState: HardState | undefined;
  /** A snapshot from the leader to persist and restore the state machine from, before anything else. */
  readonly snapshot?: SnapshotMeta & { readonly data?: Uint8Array };
  /** Entries to append to stable storage (may overwrite a conflicting suffix). */
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** A membership change was proposed while another one is still pending (one at a time). */
export class ConfChangeInProgressError extends Error {
  constructor() {
    super('a membership change is already in progress');
    this.name = 'ConfChangeInProgressError';
  }
}

export class NotLeaderError extends Error {
  constructor(readonly leader: MemberId | '') {
    super(leader ? `not the leader; the leader is ${leader}` : 'no leader');
    this.name = 'NotLeaderError';
  }
}

/**
 * The proposal left this leader but it lost leadership (or stopped) before the entry was applied:
 * the entry may still commit under the next leader, or be replaced. Unlike NotLeaderError (refused,
 * nothing happened), a client must not assume either outcome; swarmkit surfaces this case as
 * "context deadline exceeded".
 */
export class ProposalOutcomeUnknownError extends Error {
  constructor(readonly index: number) {
    super(`context deadline exceeded: leadership was lost before entry ${index} was applied; it may or may not commit`);
    this.name = 'ProposalOutcomeUnknownError';
  }
}

/**
 * The node stopped for good after a storage or apply error (a failed WAL write or fsync, a failed
 * snapshot install, a throwing state machine). Carrying on could acknowledge what is not on disk or
 * serve state that skipped an entry; the process should exit and restart from disk.
 */
export class RaftFatalError extends Error {
  constructor(readonly reason: unknown) {
    super(`raft stopped after a storage or apply error: ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = 'RaftFatalError';
  }
}
