/**
 * What the visualizer's server sends its page: compact records of nodes, services and current tasks,
 * a snapshot on connect and then one delta per burst of committed store changes. Shared by the
 * server (src/ui/feed.ts) and the page (src/ui/web/), so it imports nothing.
 */

export interface UiNode {
  id: string;
  hostname: string;
  role: 'manager' | 'worker';
  /** This node leads the Raft group. */
  leader: boolean;
  /** Managers only: as `node ls` MANAGER STATUS shows it. */
  reachability?: 'unknown' | 'unreachable' | 'reachable';
  availability: 'active' | 'pause' | 'drain';
  state: 'unknown' | 'down' | 'ready' | 'disconnected';
  addr: string;
  engine: string;
  /** Totals the node reported (nano CPUs, bytes). */
  nanoCpus: number;
  memoryBytes: number;
}

export interface UiService {
  id: string;
  name: string;
  /** `com.docker.stack.namespace`, when a stack deployed it. */
  stack?: string;
  image: string;
  mode: 'replicated' | 'global' | 'replicated-job' | 'global-job';
  replicas?: number;
}

export interface UiTask {
  id: string;
  serviceId: string;
  /** `web.2`, or `web.<node id>` for a global service's task, as `service ps` names it. */
  name: string;
  slot: number;
  nodeId?: string;
  image: string;
  state: string;
  desired: string;
  /** When the task entered its state (ms since the epoch). */
  since: number;
  message: string;
  err?: string;
  /** Reservations (nano CPUs, bytes), counted against the node's totals. */
  nanoCpus: number;
  memoryBytes: number;
}

export interface UiSnapshot {
  kind: 'snapshot';
  /** The store index the snapshot reflects. */
  index: number;
  /** The manager serving the page. */
  self: string;
  nodes: UiNode[];
  services: UiService[];
  tasks: UiTask[];
}

export interface UiDelta {
  kind: 'delta';
  index: number;
  nodes: UiNode[];
  services: UiService[];
  tasks: UiTask[];
  removed: { nodes: string[]; services: string[]; tasks: string[] };
}

/** No store to show: this node is not a manager (yet). The stream stays open and ends when that changes. */
export interface UiIdle {
  kind: 'idle';
  reason: string;
}

export type UiMessage = UiSnapshot | UiDelta | UiIdle;

/** One earlier or current task of a slot, for the task panel. */
export interface UiSlotEntry extends UiTask {
  createdAt: number;
  exitCode?: number;
}

export interface UiLogLine {
  stream: 'stdout' | 'stderr';
  timestamp: string;
  text: string;
}
