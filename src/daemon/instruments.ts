/**
 * The measurements a node's parts report while they run (Raft, the agent, the dispatcher), handed
 * down from the daemon to each runtime it opens. Kept apart from metrics.ts so the runtime files
 * depend on these callbacks only, not on the metrics library.
 */
import type { AgentInstruments } from '../agent/instruments.js';
import type { RaftInstruments } from '../raft/instruments.js';

export interface NodeInstruments {
  readonly raft: RaftInstruments;
  readonly agent: AgentInstruments;
  /** How late an agent heartbeat came to this manager's dispatcher, in seconds. */
  heartbeatLateness(seconds: number): void;
  /** How long a task waited from its creation to its assignment to a node, in seconds. */
  schedulingDelay(seconds: number): void;
}
