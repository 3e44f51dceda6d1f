/** The leader's view of one follower: how far it matches, what to send next, and flow control. */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: one append is out, wait for its answer (or a heartbeat answer). */
  paused = false;
  /** Last indexes of appends in flight (replicate state), oldest first. */
  inflight: number[] = [];
  /** Heard from within the current election timeout (check-quorum). */
  recentActive = false;
  /** Tick of the last message from this member, for Reachable/Unreachable. */
  lastContactTick = 0;
  /** Snapshot state: the index of the snapshot sent, and when. */
  pendingSnapshot = 0;
  snapshotSentTick = 0;

  constructor(
    next: number,
    public learner: boolean,
  ) {
    this.next = next;
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.next = this.match + 1;
    this.paused = false;
    this.inflight = [];
  }

  /** Sent a snapshot: nothing more until the follower reports it installed (or it is resent). */
  becomeSnapshot(index: number, tick: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.snapshotSentTick = tick;
    this.paused = false;
    this.inflight = [];
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.paused = false;
    this.inflight = [];
  }

  /** An accepted append up to index; returns whether it moved anything. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.paused = false;
    }
    this.next = Math.max(this.next, index + 1);
    this.inflight = this.inflight.filter((i) => i > index);
    return updated;
  }

  /** A rejected probe at `rejected`; backs off towards `hint`. Returns false for a stale rejection. */
  maybeDecrease(rejected: number, hint: number): boolean {
    if (this.state === 'snapshot') return false;
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.becomeProbe();
      this.next = Math.max(this.match + 1, Math.min(rejected, hint + 1));
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(this.match + 1, Math.min(rejected, hint + 1));
    this.paused = false;
    return true;
  }

  isPaused(maxInflight: number): boolean {
    if (this.state === 'snapshot') return true;
    return this.state === 'probe' ? this.paused : this.inflight.length >= maxInflight;
  }
}
