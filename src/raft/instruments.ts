/**
 * What a Raft member reports for monitoring, as plain callbacks: the daemon turns them into
 * Prometheus series (src/daemon/metrics.ts), tests may record them, and Raft itself stays free of
 * any metrics library. Every callback is optional and must not throw or block.
 */
export interface RaftInstruments {
  /** One WAL append made durable (write + fdatasync): how long it took and how many entries it held. */
  walSync?(seconds: number, entries: number): void;
  /** A proposal of this member was committed and applied here, `seconds` after it was proposed. */
  proposalApplied?(seconds: number): void;
  /** The member this one knows as leader changed to another one (not to "none"). */
  leaderChanged?(): void;
  /** A Raft tick fired `seconds` later than its period (a blocked event loop). */
  tickLateness?(seconds: number): void;
}
