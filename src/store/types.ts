/**
 * The cluster's objects as the store keeps them. Specs use Docker's field names (PascalCase) so the
 * Engine API layer can serve them with little translation; times are epoch milliseconds internally.
 */
import type { NodeId, ServiceId, TaskId } from '../common/ids.js';

export interface Meta {
  readonly ID: string;
  /** The log index of the last change; the `?version=` of optimistic concurrency. */
  Version: { Index: number };
  CreatedAt: number;
  UpdatedAt: number;
}

export type Labels = Record<string, string>;

// ---------- cluster ----------

export interface ClusterSpec {
  Name: string;
  Labels: Labels;
  Orchestration: { TaskHistoryRetentionLimit?: number };
  Raft: {
    SnapshotInterval?: number;
    KeepOldSnapshots?: number;
    LogEntriesForSlowFollowers?: number;
    ElectionTick?: number;
    HeartbeatTick?: number;
  };
  Dispatcher: { HeartbeatPeriod?: number };
  CAConfig: {
    NodeCertExpiry?: number;
    ForceRotate?: number;
    SigningCACert?: string;
    SigningCAKey?: string;
    ExternalCAs?: ExternalCA[];
  };
  TaskDefaults: { LogDriver?: { Name: string; Options?: Record<string, string> } };
  EncryptionConfig: { AutoLockManagers: boolean };
}

/** A CFSSL signing endpoint for node certificates (`--external-ca`). */
export interface ExternalCA {
  Protocol: string;
  URL: string;
  Options?: Record<string, string>;
  /** The root it signs with; none: the swarm's current root. */
  CACert?: string;
}

export interface ClusterObject extends Meta {
  Spec: ClusterSpec;
  RootCA: {
    CACert: string;
    CAKey?: string;
    /** A root CA rotation in progress (see manager/ca/rotation.ts). */
    RootRotation?: { CACert: string; CAKey?: string; Phase: 'trust' | 'issue' };
  };
  JoinTokens: { Worker: string; Manager: string };
  /** The managers' unlock key while autolock is on (never shown by swarm inspect). */
  UnlockKey?: string;
  DefaultAddrPool: string[];
  SubnetSize: number;
  DataPathPort: number;
}

// ---------- nodes ----------

export type NodeRole = 'worker' | 'manager';
export type NodeAvailability = 'active' | 'pause' | 'drain';
export type NodeState = 'unknown' | 'down' | 'ready' | 'disconnected';

export interface NodeSpec {
  Name?: string;
  Labels: Labels;
  Role: NodeRole;
  Availability: NodeAvailability;
}

export interface NodeDescription {
  Hostname: string;
  Platform: { Architecture: string; OS: string };
  Resources: { NanoCPUs: number; MemoryBytes: number };
  Engine: { EngineVersion: string; Labels?: Labels; Plugins: { Type: string; Name: string }[] };
}

/** What a node trusts and who issued its certificate, as Docker's TLSInfo (DER fields in base64). */
export interface TlsInfo {
  TrustRoot: string;
  CertIssuerSubject: string;
  CertIssuerPublicKey: string;
}

export interface NodeObject extends Meta {
  ID: NodeId;
  Spec: NodeSpec;
  Description: NodeDescription;
  Status: { State: NodeState; Message?: string; Addr: string };
  ManagerStatus?: { Leader: boolean; Reachability: 'unknown' | 'unreachable' | 'reachable'; Addr: string };
  /** As the node last reported it (Docker shows it as Description.TLSInfo). */
  TLSInfo?: TlsInfo;
  /** Where the node serves the cluster port once it is a manager (its join's advertise address and listen port). */
  ClusterAddr?: string;
  /** The node's own addresses on networks (its ingress address: the routing mesh's SNAT source), as swarmkit's Node.Attachments. */
  Attachments?: NetworkAttachment[];
  /**
   * Plain containers on this node attached to attachable overlays (`docker run --network NAME`): the
   * address the leader allocated for each, kept until the node reports the container gone. swarmkit
   * records these as "network attachment" tasks; shoal keeps them beside the node, which owns them.
   */
  ContainerAttachments?: ContainerAttachment[];
}

/** One plain container's address on an attachable overlay (swarmkit's attachment task). */
export interface ContainerAttachment {
  /** Chosen by the node before the container exists; the container carries it as a label. */
  readonly ID: string;
  readonly NetworkID: string;
  readonly Addresses: string[];
  /** Known when the container existed first (`docker network connect`). */
  readonly ContainerID?: string;
  readonly Aliases?: string[];
}

// ---------- services ----------

export interface Mount {
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Labels;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
  };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
}

export interface ContainerSpec {
  Image: string;
  Labels?: Labels;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Groups?: string[];
  Init?: boolean;
  TTY?: boolean;
  OpenStdin?: boolean;
  ReadOnly?: boolean;
  Mounts?: Mount[];
  StopSignal?: string;
  StopGracePeriod?: number;
  Healthcheck?: HealthConfig;
  Hosts?: string[];
  DNSConfig?: { Nameservers?: string[]; Search?: string[]; Options?: string[] };
  Sysctls?: Record<string, string>;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
  Isolation?: string;
  Secrets?: SecretReference[];
  Configs?: ConfigReference[];
  [extra: string]: unknown;
}

export interface Resources {
  NanoCPUs?: number;
  MemoryBytes?: number;
  Pids?: number;
}

export interface RestartPolicy {
  Condition?: 'none' | 'on-failure' | 'any';
  Delay?: number;
  MaxAttempts?: number;
  Window?: number;
}

export interface Placement {
  Constraints?: string[];
  Preferences?: { Spread: { SpreadDescriptor: string } }[];
  MaxReplicas?: number;
  Platforms?: { Architecture: string; OS: string }[];
}

export interface NetworkAttachmentConfig {
  Target: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string>;
}

export interface TaskSpec {
  ContainerSpec?: ContainerSpec;
  Resources?: { Limits?: Resources; Reservations?: Resources };
  RestartPolicy?: RestartPolicy;
  Placement?: Placement;
  Networks?: NetworkAttachmentConfig[];
  LogDriver?: { Name: string; Options?: Record<string, string> };
  ForceUpdate?: number;
  Runtime?: string;
}

export interface UpdateConfig {
  Parallelism?: number;
  Delay?: number;
  FailureAction?: 'pause' | 'continue' | 'rollback';
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

export interface PortConfig {
  Name?: string;
  Protocol?: 'tcp' | 'udp' | 'sctp';
  TargetPort: number;
  PublishedPort?: number;
  PublishMode?: 'ingress' | 'host';
}

export interface EndpointSpec {
  Mode?: 'vip' | 'dnsrr';
  Ports?: PortConfig[];
}

export type ServiceMode =
  | { Replicated: { Replicas?: number } }
  | { Global: Record<string, never> }
  | { ReplicatedJob: { MaxConcurrent?: number; TotalCompletions?: number } }
  | { GlobalJob: Record<string, never> };

export interface ServiceSpec {
  Name: string;
  /**
   * shoal extension: a counter like TaskTemplate.ForceUpdate. Raising it re-spreads a replicated
   * service's tasks evenly over its eligible nodes, under the update policy (`shoal service rebalance`).
   */
  Rebalance?: number;
  /**
   * shoal extension: start order across the cluster (compose `depends_on`, honoured by `shoal stack
   * deploy`). No task of this service starts until every named service meets its condition.
   */
  DependsOn?: ServiceDependency[];
  Labels?: Labels;
  TaskTemplate: TaskSpec;
  Mode: ServiceMode;
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  EndpointSpec?: EndpointSpec;
}

export type DependencyCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface ServiceDependency {
  /** Full service name (e.g. `wp_mysql`). */
  Service: string;
  Condition: DependencyCondition;
}

export type UpdateState =
  'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface ServiceObject extends Meta {
  ID: ServiceId;
  Spec: ServiceSpec;
  /** Bumped on every spec change; tasks remember the version they were made from. */
  SpecVersion: number;
  PreviousSpec?: ServiceSpec;
  Endpoint: { Spec: EndpointSpec; Ports?: PortConfig[]; VirtualIPs?: { NetworkID: string; Addr: string }[] };
  UpdateStatus?: { State: UpdateState; StartedAt?: number; CompletedAt?: number; Message: string };
  /** Tasks chosen by the last rebalance; the updater replaces them like tasks of an older spec. */
  RebalanceTasks?: string[];
  /** Deletion is two-phase: tasks are shut down, then the service is removed once they are gone. */
  PendingDelete?: boolean;
  /**
   * Jobs only: which run of the job is current (bumped by every update, as swarmkit does, so
   * `service update --force` runs it again) and when that run began (epoch ms).
   */
  JobStatus?: JobStatus;
}

export interface JobStatus {
  JobIteration: { Index: number };
  LastExecution: number;
}

// ---------- tasks ----------

/** swarmkit's task states; numeric order matters (states only move forward). */
export const TASK_STATES = [
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

const RANK: Record<TaskState, number> = {
  new: 0,
  pending: 64,
  assigned: 192,
  accepted: 256,
  preparing: 320,
  ready: 384,
  starting: 448,
  running: 512,
  complete: 576,
  shutdown: 640,
  failed: 704,
  rejected: 768,
  remove: 800,
  orphaned: 832,
};

export function stateRank(s: TaskState): number {
  return RANK[s];
}

/** A task at or past `complete` no longer runs and never will. */
export function isTerminal(s: TaskState): boolean {
  return RANK[s] >= RANK.complete;
}

export interface TaskStatus {
  Timestamp: number;
  State: TaskState;
  Message: string;
  Err?: string;
  ContainerStatus?: { ContainerID: string; PID: number; ExitCode: number };
  PortStatus?: { Ports?: PortConfig[] };
}

export interface NetworkAttachment {
  NetworkID: string;
  /** Docker network name on the node the container is attached to. */
  DockerNetwork: string;
  Addresses: string[];
  Aliases?: string[];
}

export interface TaskObject extends Meta {
  ID: TaskId;
  ServiceID: ServiceId;
  /** Replicated: 1..N. Global: 0 (identified by NodeID). */
  Slot: number;
  NodeID?: NodeId;
  Spec: TaskSpec;
  SpecVersion: number;
  ServiceAnnotations: { Name: string; Labels: Labels };
  Annotations: { Name: string };
  Status: TaskStatus;
  DesiredState: TaskState;
  Endpoint?: { Ports?: PortConfig[] };
  Networks?: NetworkAttachment[];
  /** Restart bookkeeping: the task this one replaces and how many restarts led here. */
  /**
   * The restart chain of a slot: the task it replaced, how many restarts of this spec came before,
   * and when the recent ones happened (epoch ms, newest last) for the policy's Window.
   */
  Restarts?: { PreviousTaskID?: TaskId; Attempt: number; Recent?: number[] };
  /**
   * A replacement waits with desired state `ready` until this time (restart delay, update delay)
   * and until the task it replaces has stopped; then the orchestrator moves it to `running`.
   */
  PromoteAfter?: number;
  /** Why the orchestrator made this task: a new slot, a restart, or a rolling update. */
  Origin?: 'slot' | 'restart' | 'update';
  /** When the task was first reported running (stamped by the dispatcher); the update monitor counts from here. */
  RunningAt?: number;
  /** Jobs only: the run of the job this task belongs to (the service's JobStatus.JobIteration then). */
  JobIteration?: { Index: number };
}

// ---------- networks ----------

/** One `--subnet/--ip-range/--gateway` entry as the user gave it (Docker's IPAM.Config field names). */
export interface IpamConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
}

/** A swarm-scoped network as `docker network create -d overlay` describes it. */
export interface NetworkSpec {
  Name: string;
  Labels: Labels;
  /** Always `overlay` (the only swarm driver shoal has); Options are the driver options (`--opt`). */
  DriverConfiguration: { Name: 'overlay'; Options: Record<string, string> };
  Attachable: boolean;
  Internal: boolean;
  /** The routing mesh's network (`ingress`, made at `swarm init`). */
  Ingress: boolean;
  IPAMOptions: { Driver: { Name: string; Options?: Record<string, string> }; Configs: IpamConfig[] };
}

/** What the leader allocated for a network: fixed for its life, so a new leader keeps it. */
export interface NetworkAllocation {
  /** Masked CIDR. */
  Subnet: string;
  Gateway: string;
  IPRange?: string;
  VNI: number;
}

export interface NetworkObject extends Meta {
  Spec: NetworkSpec;
  Allocation: NetworkAllocation;
}

// ---------- secrets and configs ----------

/**
 * A secret's or config's spec. Data is base64 (as the Engine API carries it) and lives only here, in
 * the Raft store, whose log and snapshots are encrypted; no answer of the API ever shows a secret's.
 */
export interface SecretSpec {
  Name: string;
  Labels: Labels;
  Data: string;
}

export interface SecretObject extends Meta {
  Spec: SecretSpec;
}

export interface ConfigObject extends Meta {
  Spec: SecretSpec;
}

/** Where a referenced secret or config appears in the container (Docker's File target). */
export interface FileTarget {
  Name: string;
  UID: string;
  GID: string;
  Mode: number;
}

export interface SecretReference {
  File: FileTarget;
  SecretID: string;
  SecretName: string;
}

export interface ConfigReference {
  File: FileTarget;
  ConfigID: string;
  ConfigName: string;
}

// ---------- the store's tables ----------

export interface ObjectTypes {
  cluster: ClusterObject;
  node: NodeObject;
  service: ServiceObject;
  task: TaskObject;
  network: NetworkObject;
  secret: SecretObject;
  config: ConfigObject;
}
export type Table = keyof ObjectTypes;
export const TABLES: readonly Table[] = ['cluster', 'node', 'service', 'task', 'network', 'secret', 'config'];
export type AnyObject = ObjectTypes[Table];
