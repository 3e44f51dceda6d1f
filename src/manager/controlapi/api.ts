/**
 * The control API: what a manager offers its clients. The Engine API layer (src/api) translates
 * HTTP to these calls and back; it never touches the store directly. Errors are ShoalErrors whose
 * code maps to Docker's HTTP status (src/common/errors.ts).
 */
import type { NodeId } from '../../common/ids.js';
import type {
  ClusterObject,
  ClusterSpec,
  NodeObject,
  NodeSpec,
  ServiceObject,
  ServiceSpec,
  TaskObject,
} from '../../store/types.js';

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

export interface ControlApi {
  swarmInit(req: InitRequest): Promise<NodeId>;
  swarmJoin(req: JoinRequest): Promise<void>;
  swarmLeave(force: boolean): Promise<void>;
  swarmInspect(): Promise<ClusterObject>;
  swarmUnlockKey(): Promise<{ UnlockKey: string }>;
  swarmUnlock(key: string): Promise<void>;
  swarmUpdate(version: number, spec: ClusterSpec, flags: SwarmUpdateFlags): Promise<void>;
  swarmInfo(): Promise<SwarmInfo>;

  listNodes(): Promise<NodeObject[]>;
  /** ref = full id, exact hostname, or unique id prefix. */
  getNode(ref: string): Promise<NodeObject>;
  updateNode(id: string, version: number, spec: NodeSpec): Promise<void>;
  removeNode(ref: string, force: boolean): Promise<void>;

  listServices(): Promise<ServiceObject[]>;
  getService(ref: string): Promise<ServiceObject>;
  serviceStatus(serviceId: string): Promise<ServiceStatus>;
  createService(spec: ServiceSpec): Promise<{ id: string; warnings: string[] }>;
  updateService(id: string, version: number, spec: ServiceSpec, opts: UpdateServiceOptions): Promise<{ warnings: string[] }>;
  removeService(ref: string): Promise<void>;

  listTasks(): Promise<TaskObject[]>;
  getTask(ref: string): Promise<TaskObject>;

  serviceLogs(ref: string, opts: LogOptions): AsyncIterable<LogLine>;
  taskLogs(ref: string, opts: LogOptions): AsyncIterable<LogLine>;
}
