/**
 * The control API as one node serves it: node-level operations (init, join, leave, info) here, the
 * rest delegated to the manager when this node is a manager in a swarm; otherwise Docker's
 * "not a swarm manager" error.
 */
import { ShoalError } from '../common/errors.js';
import type { NodeId } from '../common/ids.js';
import type {
  ControlApi,
  InitRequest,
  JoinRequest,
  LogLine,
  LogOptions,
  ServiceStatus,
  SwarmInfo,
  SwarmUpdateFlags,
  UpdateServiceOptions,
} from '../manager/controlapi/api.js';
import type { ClusterObject, ClusterSpec, NodeObject, NodeSpec, ServiceObject, ServiceSpec, TaskObject } from '../store/types.js';
import type { Args, MethodName, Result } from './control-methods.js';
import type { ShoalDaemon } from './daemon.js';

export const NOT_A_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
export const ALREADY_IN_SWARM =
  'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
export const LEAVE_LAST_MANAGER =
  'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.';

export class NodeControl implements ControlApi {
  constructor(private readonly daemon: ShoalDaemon) {}

  /** On the leader, run here; on another manager, forwarded to the leader; elsewhere refused. */
  private invoke<K extends MethodName>(m: K, ...args: Args<K>): Promise<Result<K>> {
    return this.daemon.invoke(m, args);
  }

  swarmInit(req: InitRequest): Promise<NodeId> {
    if (req.ForceNewCluster && this.daemon.isManager()) return this.daemon.forceNewCluster();
    if (this.daemon.inSwarm()) return Promise.reject(new ShoalError('unavailable', ALREADY_IN_SWARM));
    return this.daemon.initSwarm(req);
  }

  swarmJoin(req: JoinRequest): Promise<void> {
    if (this.daemon.inSwarm()) return Promise.reject(new ShoalError('unavailable', ALREADY_IN_SWARM));
    return this.daemon.joinSwarm(req);
  }

  async swarmLeave(force: boolean): Promise<void> {
    if (!this.daemon.inSwarm()) throw new ShoalError('unavailable', 'This node is not part of a swarm');
    if (!force && this.daemon.isManager()) await this.daemon.checkLeave();
    await this.daemon.leaveSwarm();
  }

  swarmInspect(): Promise<ClusterObject> {
    return this.invoke('cluster');
  }

  swarmUnlockKey(): Promise<{ UnlockKey: string }> {
    return this.invoke('unlockKey');
  }

  swarmUnlock(key: string): Promise<void> {
    return this.daemon.unlock(key);
  }

  async swarmUpdate(version: number, spec: ClusterSpec, flags: SwarmUpdateFlags): Promise<void> {
    await this.invoke('updateCluster', version, spec, flags);
  }

  async swarmInfo(): Promise<SwarmInfo> {
    return this.daemon.swarmInfo();
  }

  listNodes(): Promise<NodeObject[]> {
    return this.invoke('listNodes');
  }
  getNode(ref: string): Promise<NodeObject> {
    return this.invoke('getNode', ref);
  }
  updateNode(id: string, version: number, spec: NodeSpec): Promise<void> {
    return this.invoke('updateNode', id, version, spec);
  }
  removeNode(ref: string, force: boolean): Promise<void> {
    return this.invoke('removeNode', ref, force);
  }

  listServices(): Promise<ServiceObject[]> {
    return this.invoke('listServices');
  }
  getService(ref: string): Promise<ServiceObject> {
    return this.invoke('getService', ref);
  }
  serviceStatus(serviceId: string): Promise<ServiceStatus> {
    return this.invoke('serviceStatus', serviceId);
  }
  createService(spec: ServiceSpec): Promise<{ id: string; warnings: string[] }> {
    return this.invoke('createService', spec);
  }
  updateService(id: string, version: number, spec: ServiceSpec, opts: UpdateServiceOptions): Promise<{ warnings: string[] }> {
    return this.invoke('updateService', id, version, spec, opts);
  }
  removeService(ref: string): Promise<void> {
    return this.invoke('removeService', ref);
  }

  listTasks(): Promise<TaskObject[]> {
    return this.invoke('listTasks');
  }
  getTask(ref: string): Promise<TaskObject> {
    return this.invoke('getTask', ref);
  }

  serviceLogs(ref: string, opts: LogOptions): AsyncIterable<LogLine> {
    return this.daemon.logs('service', ref, opts);
  }
  taskLogs(ref: string, opts: LogOptions): AsyncIterable<LogLine> {
    return this.daemon.logs('task', ref, opts);
  }
}
