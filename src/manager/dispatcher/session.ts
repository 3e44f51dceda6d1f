/**
 * The contract between a node's agent and a manager's dispatcher. The same interface is served
 * in-process (one host) and over the cluster port (multi-host), so the agent never knows which.
 */
import type { NodeDescription, TaskObject, TaskStatus } from '../../store/types.js';

export interface TaskStatusUpdate {
  readonly taskId: string;
  readonly status: TaskStatus;
}

/** The full set of tasks a node must hold, sent whenever it changes. */
export interface Assignments {
  readonly tasks: readonly TaskObject[];
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
