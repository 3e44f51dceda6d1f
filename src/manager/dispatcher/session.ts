/**
 * The contract between a node's agent and a manager's dispatcher. The same interface is served
 * in-process (one host) and over the cluster port (multi-host), so the agent never knows which.
 */
import type { NodeDescription, TaskObject, TaskStatus } from '../../store/types.js';

export interface TaskStatusUpdate {
  readonly taskId: string;
  readonly status: TaskStatus;
}

/** An overlay network as a node plumbs it. */
export interface ViewNetwork {
  readonly id: string;
  readonly name: string;
  /** Masked CIDR. */
  readonly subnet: string;
  readonly gateway: string;
  readonly vni: number;
  readonly internal: boolean;
  /** The routing mesh's network (tasks' DNS is never its gateway when they have another). */
  readonly ingress?: boolean;
}

/** A task's address on one network, wherever in the cluster the task runs. */
export interface ViewEndpoint {
  readonly networkId: string;
  /** Plain address (the MAC follows from it). */
  readonly ip: string;
  readonly nodeId: string;
  /** The underlay address of the node it runs on (that node's Status.Addr). */
  readonly hostIp: string;
  readonly taskId: string;
  readonly taskName: string;
  readonly serviceName: string;
  readonly aliases: readonly string[];
  /** Running and meant to run: answered by DNS and load-balanced to. */
  readonly serving: boolean;
  /**
   * A plain container on an attachable overlay (`docker run --network`): taskId is the attachment's
   * id, serviceName is empty. Its node plumbs the network for it.
   */
  readonly attachment?: true;
}

/** A service on one network: how its name resolves there. */
export interface ViewService {
  readonly networkId: string;
  readonly name: string;
  readonly mode: 'vip' | 'dnsrr';
  readonly vip?: string;
  readonly aliases: readonly string[];
}

/** A port every node publishes through the routing mesh. */
export interface MeshPort {
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly publishedPort: number;
  readonly targetPort: number;
  /** Ingress addresses of the service's serving tasks, cluster-wide. */
  readonly backends: readonly string[];
}

/** Another node's ingress address: mesh replies from this node's tasks go back to it. */
export interface MeshPeer {
  readonly ip: string;
  readonly hostIp: string;
}

/** The routing mesh as one node runs it: present while some service publishes an ingress port. */
export interface MeshView {
  readonly networkId: string;
  /** This node's ingress address (CIDR), put on its ingress bridge: the SNAT source. */
  readonly nodeAddress: string;
  readonly peers: readonly MeshPeer[];
  readonly ports: readonly MeshPort[];
}

/** What a node needs of the overlays its tasks use (see dispatcher/network-view.ts). */
export interface NetworkView {
  readonly networks: readonly ViewNetwork[];
  readonly endpoints: readonly ViewEndpoint[];
  readonly services: readonly ViewService[];
  readonly mesh?: MeshView;
  /** The swarm's VXLAN UDP port (`swarm init --data-path-port`); absent means 4789. */
  readonly dataPathPort?: number;
}

/**
 * A secret's or config's data, sent to a node only while one of its tasks references it. The set in
 * each Assignments message is complete: what is missing from it, the node forgets.
 */
export interface AssignedPayload {
  readonly kind: 'secret' | 'config';
  readonly id: string;
  /** base64, as the store keeps it. */
  readonly data: string;
}

/** The full set of tasks a node must hold, sent whenever it changes, with the networks and secrets they use. */
export interface Assignments {
  readonly tasks: readonly TaskObject[];
  readonly networks: NetworkView;
  readonly payloads: readonly AssignedPayload[];
}

export interface SessionRequest {
  readonly nodeId: string;
  readonly description: NodeDescription;
  /** The address other nodes reach this one at. */
  readonly addr: string;
}

export interface AgentSession {
  readonly sessionId: string;
  /** Heartbeat period the agent must keep, in ms. */
  readonly heartbeatPeriodMs: number;
  /** Assignments arrive through this callback; the first call carries the complete set. */
  onAssignments(cb: (a: Assignments) => void): void;
  /** Called when the session ends from the manager's side (leader change, node removed). */
  onClose(cb: (reason: string) => void): void;
  updateStatus(updates: readonly TaskStatusUpdate[]): Promise<void>;
  /** Also tells the node the role the cluster wants it in (promote/demote reach it this way). */
  heartbeat(): Promise<{ periodMs: number; role?: 'manager' | 'worker' }>;
  close(): void;
}

export interface DispatcherEndpoint {
  session(req: SessionRequest): Promise<AgentSession>;
}
