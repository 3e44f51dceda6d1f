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
  /** This member learned of a new leader (the first one after starting included; losing one is not counted). */
  leaderChanged?(): void;
  /** A Raft tick fired `seconds` later than its period (a blocked event loop). */
  tickLateness?(seconds: number): void;
}
