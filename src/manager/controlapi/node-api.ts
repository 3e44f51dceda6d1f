/**
 * What one node offers its API clients besides the cluster-level methods: operations on this node's
 * own membership (init, join, leave, unlock, info), which never go to the leader, and the log
 * streams gathered by the leader.
 */
import type { NodeId } from '../../common/ids.js';
import type { InitRequest, JoinRequest, LogLine, LogOptions, SwarmInfo } from './api.js';
import type { SwarmEvent } from './events.js';

export interface NodeApi {
  swarmInit(req: InitRequest): Promise<NodeId>;
  swarmJoin(req: JoinRequest): Promise<void>;
  swarmLeave(force: boolean): Promise<void>;
  swarmUnlock(key: string): Promise<void>;
  swarmInfo(): Promise<SwarmInfo>;
  logs(kind: 'service' | 'task', ref: string, opts: LogOptions): AsyncIterable<LogLine>;
  /** This manager's swarm events (`docker events`); undefined off a manager, which has none. */
  swarmEvents(): SwarmEventFeed | undefined;
  /** Diagnostics for `GET /debug/vars` (Raft term and tick lateness on a manager), as dockerd's expvar. */
  debugVars?(): Record<string, unknown>;
}

/** Recent swarm events and the live feed. */
export interface SwarmEventFeed {
  since(sinceSec: number): SwarmEvent[];
  subscribe(listener: (e: SwarmEvent) => void): () => void;
}
