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
import type { ClusterControl } from '../manager/controlapi/cluster-control.js';
import type { ClusterObject, ClusterSpec, NodeObject, NodeSpec, ServiceObject, ServiceSpec, TaskObject } from '../store/types.js';
import type { ShoalDaemon } from './daemon.js';

export const NOT_A_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
export const ALREADY_IN_SWARM =
  'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
export const LEAVE_LAST_MANAGER =
  'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.';

export class NodeControl implements ControlApi {
  constructor(private readonly daemon: ShoalDaemon) {}

  private manager(): ClusterControl {
    const c = this.daemon.clusterControl();
    if (!c) throw new ShoalError('unavailable', NOT_A_MANAGER);
    return c;
  }

  /** The leader's view, confirmed current by a majority before it is read (linearizable reads). */
  private async reader(): Promise<ClusterControl> {
    const c = this.manager();
    await this.daemon.readBarrier();
    return c;
  }

  swarmInit(req: InitRequest): Promise<NodeId> {
    if (this.daemon.inSwarm()) return Promise.reject(new ShoalError('unavailable', ALREADY_IN_SWARM));
    return this.daemon.initSwarm(req);
  }

  swarmJoin(_req: JoinRequest): Promise<void> {
    if (this.daemon.inSwarm()) return Promise.reject(new ShoalError('unavailable', ALREADY_IN_SWARM));
    return Promise.reject(new ShoalError('unimplemented', 'joining another node is not implemented yet in shoal (one-manager clusters only)'));
  }

  async swarmLeave(force: boolean): Promise<void> {
    if (!this.daemon.inSwarm()) throw new ShoalError('unavailable', 'This node is not part of a swarm');
    if (!force && this.daemon.isManager()) throw new ShoalError('unavailable', LEAVE_LAST_MANAGER);
    await this.daemon.leaveSwarm();
  }

  async swarmInspect(): Promise<ClusterObject> {
    return (await this.reader()).cluster();
  }

  async swarmUpdate(version: number, spec: ClusterSpec, flags: SwarmUpdateFlags): Promise<void> {
    await this.manager().updateCluster(version, spec, flags, (role) => this.daemon.newJoinToken(role));
  }

  async swarmInfo(): Promise<SwarmInfo> {
    return this.daemon.swarmInfo();
  }

  async listNodes(): Promise<NodeObject[]> {
    return (await this.reader()).listNodes();
  }
  async getNode(ref: string): Promise<NodeObject> {
    return (await this.reader()).getNode(ref);
  }
  async updateNode(id: string, version: number, spec: NodeSpec): Promise<void> {
    await this.manager().updateNode(id, version, spec);
  }
  async removeNode(ref: string, force: boolean): Promise<void> {
    await this.manager().removeNode(ref, force);
  }

  async listServices(): Promise<ServiceObject[]> {
    return (await this.reader()).listServices();
  }
  async getService(ref: string): Promise<ServiceObject> {
    return (await this.reader()).getService(ref);
  }
  async serviceStatus(serviceId: string): Promise<ServiceStatus> {
    return (await this.reader()).serviceStatus(serviceId);
  }
  createService(spec: ServiceSpec): Promise<{ id: string; warnings: string[] }> {
    return this.manager().createService(spec);
  }
  updateService(id: string, version: number, spec: ServiceSpec, opts: UpdateServiceOptions): Promise<{ warnings: string[] }> {
    return this.manager().updateService(id, version, spec, opts);
  }
  async removeService(ref: string): Promise<void> {
    await this.manager().removeService(ref);
  }

  async listTasks(): Promise<TaskObject[]> {
    return (await this.reader()).listTasks();
  }
  async getTask(ref: string): Promise<TaskObject> {
    return (await this.reader()).getTask(ref);
  }

  serviceLogs(ref: string, opts: LogOptions): AsyncIterable<LogLine> {
    return this.manager().serviceLogs(ref, opts);
  }
  taskLogs(ref: string, opts: LogOptions): AsyncIterable<LogLine> {
    return this.manager().taskLogs(ref, opts);
  }
}
