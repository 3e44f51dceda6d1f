/**
 * What the agent needs from a container runtime. The Docker implementation is the real one; the
 * in-memory one (src/agent/testing) serves unit tests. Both honour the same contract.
 */
import type { LogOptions } from '../../manager/controlapi/api.js';
import type { NodeDescription, TaskObject } from '../../store/types.js';

export interface ContainerObservation {
  id: string;
  state: 'created' | 'running' | 'exited' | 'dead' | 'removing' | 'paused' | 'restarting' | 'missing';
  exitCode: number;
  pid: number;
  health: 'none' | 'starting' | 'healthy' | 'unhealthy';
  error: string;
  startedAt: string;
  finishedAt: string;
}

export interface Executor {
  describe(): Promise<NodeDescription>;
  /** Present locally, or pulled; otherwise fails with Docker's `No such image: ...`. */
  ensureImage(image: string): Promise<void>;
  /** Creates (does not start) the task's container; returns the existing one for this task if any. */
  create(task: TaskObject): Promise<string>;
  start(containerId: string): Promise<void>;
  /** By container id or task id; state `missing` when there is none. */
  inspect(containerIdOrTaskId: string): Promise<ContainerObservation>;
  /** Graceful stop within graceMs, then kill. Missing or stopped containers are fine. */
  stop(containerId: string, graceMs: number): Promise<void>;
  /** Force-removes the container and its anonymous volumes. Missing is fine. */
  remove(containerId: string): Promise<void>;
  /** Containers of this node of this cluster only, found by shoal's own labels. */
  listManaged(): Promise<{ id: string; taskId: string; state: string; name: string }[]>;
  /**
   * Calls back with the task id whenever a managed container dies, stops, is removed or changes
   * health, and the engine's name for what happened (`die`, `destroy`, `health_status: ...`).
   */
  watch(onChange: (taskId: string, event: string) => void): () => void;
  logs(taskId: string, opts: LogOptions): AsyncIterable<{ stream: 1 | 2; timestamp: string; line: string }>;
}
