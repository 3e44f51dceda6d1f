/**
 * The control API's request and answer types. The methods themselves are declared once, by
 * resource, in cluster.ts, node.ts, service.ts and task.ts (see methods.ts); node-level operations
 * (init, join, leave, unlock, info) are in node-api.ts. Errors are ShoalErrors whose code maps to
 * Docker's HTTP status (src/common/errors.ts).
 */
import type { ClusterObject, ClusterSpec } from '../../store/types.js';

export interface InitRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  DataPathPort?: number;
  ForceNewCluster?: boolean;
  Spec?: Partial<ClusterSpec>;
  AutoLockManagers?: boolean;
  Availability?: string;
  DefaultAddrPool?: string[];
  SubnetSize?: number;
}

export interface JoinRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  RemoteAddrs: string[];
  JoinToken: string;
  Availability?: string;
}

export type LocalNodeState = 'inactive' | 'pending' | 'active' | 'error' | 'locked';

/** The Swarm section of `GET /info`. */
export interface SwarmInfo {
  NodeID: string;
  NodeAddr: string;
  LocalNodeState: LocalNodeState;
  ControlAvailable: boolean;
  Error: string;
  RemoteManagers: { NodeID: string; Addr: string }[] | null;
  Nodes?: number;
  Managers?: number;
  Cluster?: ClusterObject;
}

export interface ServiceStatus {
  RunningTasks: number;
  DesiredTasks: number;
  CompletedTasks: number;
}

export interface UpdateServiceOptions {
  /** `?rollback=previous`: swap in PreviousSpec. */
  rollback?: boolean;
}

export interface SwarmUpdateFlags {
  rotateWorkerToken?: boolean;
  rotateManagerToken?: boolean;
  rotateManagerUnlockKey?: boolean;
}

export interface LogOptions {
  follow: boolean;
  /** Lines from the end per task; undefined = all. */
  tail?: number;
  /** Seconds since the epoch (may be fractional). */
  since?: number;
  stdout: boolean;
  stderr: boolean;
  signal?: AbortSignal;
}

export interface LogLine {
  /** 1 = stdout, 2 = stderr. */
  stream: 1 | 2;
  /** RFC 3339 with nanoseconds, as the runtime engine reported it. */
  timestamp: string;
  nodeId: string;
  serviceId: string;
  taskId: string;
  /** The line without its trailing newline. */
  line: string;
}

/** Reads one task's log lines on the node that ran it. */
export interface TaskLogReader {
  logs(taskId: string, opts: LogOptions): AsyncIterable<{ stream: 1 | 2; timestamp: string; line: string }>;
}

/** Finds the log reader of a node, or undefined when the node cannot be reached. */
export type LogSource = (nodeId: string) => TaskLogReader | undefined;
