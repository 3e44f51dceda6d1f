/**
 * The control-API calls a manager serves from the store, by name, so that a follower can forward
 * them to the leader as they are (swarmkit's raft proxy): validation and `?version=` checks run on
 * the leader against its current state. The same table runs them locally on the leader.
 */
import type { ServiceStatus, SwarmUpdateFlags, UpdateServiceOptions } from '../manager/controlapi/api.js';
import type { ClusterControl } from '../manager/controlapi/cluster-control.js';
import type { ClusterObject, ClusterSpec, NodeObject, NodeSpec, ServiceObject, ServiceSpec, TaskObject } from '../store/types.js';

/** [arguments, result] of each method. */
export interface ControlMethods {
  cluster: [[], ClusterObject];
  unlockKey: [[], { UnlockKey: string }];
  updateCluster: [[number, ClusterSpec, SwarmUpdateFlags], void];
  listNodes: [[], NodeObject[]];
  getNode: [[string], NodeObject];
  updateNode: [[string, number, NodeSpec], void];
  removeNode: [[string, boolean], void];
  listServices: [[], ServiceObject[]];
  getService: [[string], ServiceObject];
  serviceStatus: [[string], ServiceStatus];
  createService: [[ServiceSpec], { id: string; warnings: string[] }];
  updateService: [[string, number, ServiceSpec, UpdateServiceOptions], { warnings: string[] }];
  removeService: [[string], void];
  listTasks: [[], TaskObject[]];
  getTask: [[string], TaskObject];
}

export type MethodName = keyof ControlMethods;
export type Args<K extends MethodName> = ControlMethods[K][0];
export type Result<K extends MethodName> = ControlMethods[K][1];

/** What the leader adds that only it knows (Raft leadership and reachability of managers). */
export interface LeaderView {
  newJoinToken(role: 'worker' | 'manager'): string;
  decorate(node: NodeObject): NodeObject;
  /** Membership side effects of node changes (promote, demote, remove) go through Raft first. */
  updateNode(c: ClusterControl, id: string, version: number, spec: NodeSpec): Promise<void>;
  removeNode(c: ClusterControl, ref: string, force: boolean): Promise<void>;
}

type Impl = { [K in MethodName]: { read: boolean; run: (c: ClusterControl, v: LeaderView, ...a: Args<K>) => Result<K> | Promise<Result<K>> } };

const impl: Impl = {
  cluster: { read: true, run: (c) => c.cluster() },
  unlockKey: { read: true, run: (c) => c.unlockKey() },
  updateCluster: { read: false, run: (c, v, version, spec, flags) => c.updateCluster(version, spec, flags, (role) => v.newJoinToken(role)) },
  listNodes: { read: true, run: (c, v) => c.listNodes().map((n) => v.decorate(n)) },
  getNode: { read: true, run: (c, v, ref) => v.decorate(c.getNode(ref)) },
  updateNode: { read: false, run: (c, v, id, version, spec) => v.updateNode(c, id, version, spec) },
  removeNode: { read: false, run: (c, v, ref, force) => v.removeNode(c, ref, force) },
  listServices: { read: true, run: (c) => c.listServices() },
  getService: { read: true, run: (c, _v, ref) => c.getService(ref) },
  serviceStatus: { read: true, run: (c, _v, id) => c.serviceStatus(id) },
  createService: { read: false, run: (c, _v, spec) => c.createService(spec) },
  updateService: { read: false, run: (c, _v, id, version, spec, opts) => c.updateService(id, version, spec, opts) },
  removeService: { read: false, run: (c, _v, ref) => c.removeService(ref) },
  listTasks: { read: true, run: (c) => c.listTasks() },
  getTask: { read: true, run: (c, _v, ref) => c.getTask(ref) },
};

export function isMethodName(m: unknown): m is MethodName {
  return typeof m === 'string' && Object.prototype.hasOwnProperty.call(impl, m);
}

export function isRead(m: MethodName): boolean {
  return impl[m].read;
}

export function runLocal<K extends MethodName>(m: K, c: ClusterControl, v: LeaderView, args: Args<K>): Promise<Result<K>> {
  const f = impl[m].run as (c: ClusterControl, v: LeaderView, ...a: Args<K>) => Result<K> | Promise<Result<K>>;
  return Promise.resolve().then(() => f(c, v, ...args));
}
