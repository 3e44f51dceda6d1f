/**
 * The store-backed half of the control API: services, nodes, tasks and the cluster object, with
 * validation, name conflicts and `?version=` optimistic concurrency. Node-level operations (init,
 * join, leave, info) live in the daemon, which owns the node's identity.
 */
import { sameValue } from '../../common/canonical.js';
import { ShoalError } from '../../common/errors.js';
import { newId, type ServiceId } from '../../common/ids.js';
import type { Random } from '../../common/random.js';
import type { Store } from '../../store/store.js';
import { isTerminal, type ClusterObject, type ClusterSpec, type NodeObject, type NodeSpec, type ServiceObject, type ServiceSpec, type TaskObject } from '../../store/types.js';
import type { LogLine, LogOptions, ServiceStatus, SwarmUpdateFlags, UpdateServiceOptions } from './api.js';
import { externalCAFor, externalCAProblem } from '../ca/external-ca.js';
import { createRootCA, rootCAProblem } from '../ca/root-ca.js';
import { newUnlockKey } from '../ca/unlock-key.js';
import { randomName } from './names.js';
import { resolveRef } from './resolve.js';
import { asRpcError, rpcError } from './rpc-errors.js';
import { modeName, validateServiceSpec } from './service-validation.js';
import { mergeLogStreams, type LogSource } from './logs.js';
import { tasksToRebalance } from '../orchestrator/rebalance.js';

export class ClusterControl {
  constructor(
    private readonly store: Store,
    private readonly random: Random,
    private readonly logSource: LogSource,
  ) {}

  // ---------- cluster ----------

  cluster(): ClusterObject {
    const c = this.store.view((tx) => tx.all('cluster')[0]);
    if (!c) throw new ShoalError('unavailable', 'cluster object not found');
    return c;
  }

  async updateCluster(version: number, spec: ClusterSpec, flags: SwarmUpdateFlags, newToken: (role: 'worker' | 'manager') => string): Promise<void> {
    const ca = spec.CAConfig ?? {};
    const extProblem = externalCAProblem(ca.ExternalCAs);
    if (extProblem) throw rpcError('invalid_argument', extProblem);
    const rotation = await this.rootRotationFor(ca, this.cluster());
    await this.write((tx) => {
      const cur = tx.all('cluster')[0];
      if (!cur) throw new ShoalError('unavailable', 'cluster object not found');
      const next: ClusterObject = { ...cur, Version: { Index: version }, Spec: normalizeClusterSpec(spec, cur.Spec) };
      // The signing CA given travels once, in this request; it is never kept in (or shown from) the spec.
      delete next.Spec.CAConfig.SigningCACert;
      delete next.Spec.CAConfig.SigningCAKey;
      if (rotation) next.RootCA = { ...cur.RootCA, RootRotation: rotation };
      if (flags.rotateWorkerToken) next.JoinTokens = { ...next.JoinTokens, Worker: newToken('worker') };
      if (flags.rotateManagerToken) next.JoinTokens = { ...next.JoinTokens, Manager: newToken('manager') };
      // Autolock: a key exists exactly while it is on; rotating makes a new one.
      const autolock = Boolean(next.Spec.EncryptionConfig?.AutoLockManagers);
      if (!autolock) delete next.UnlockKey;
      else if (!next.UnlockKey || flags.rotateManagerUnlockKey) next.UnlockKey = newUnlockKey(this.random);
      tx.update('cluster', next);
    });
  }

  /**
   * The root rotation an update asks for: a new ForceRotate value (a new root is made) or a signing
   * CA given with its key. Undefined when the update rotates nothing.
   */
  private async rootRotationFor(ca: ClusterSpec['CAConfig'], cur: ClusterObject): Promise<NonNullable<ClusterObject['RootCA']['RootRotation']> | undefined> {
    const forced = (ca.ForceRotate ?? 0) !== (cur.Spec.CAConfig.ForceRotate ?? 0);
    if (!forced && !ca.SigningCACert && !ca.SigningCAKey) return undefined;
    if (ca.SigningCAKey && !ca.SigningCACert) throw rpcError('invalid_argument', 'if a signing CA key is provided, the signing CA cert must also be provided');
    const external = externalCAFor(ca.ExternalCAs, ca.SigningCACert ?? '');
    if (ca.SigningCACert && !ca.SigningCAKey && !external) {
      throw rpcError('invalid_argument', 'a signing CA cert needs its key, or an external CA (--external-ca) that signs with it');
    }
    if (ca.SigningCACert && ca.SigningCACert.trim() === cur.RootCA.CACert.trim() && !cur.RootCA.RootRotation) return undefined;
    if (cur.RootCA.RootRotation) throw rpcError('failed_precondition', 'a root CA rotation is already in progress; wait for it to complete');
    if (ca.SigningCACert) {
      const problem = rootCAProblem(ca.SigningCACert, ca.SigningCAKey, Date.now());
      if (problem) throw rpcError('invalid_argument', problem);
      // Without a key, certificates from this root come from the external CA.
      return { CACert: ca.SigningCACert, ...(ca.SigningCAKey ? { CAKey: ca.SigningCAKey } : {}), Phase: 'trust' };
    }
    const root = await createRootCA(Date.now());
    return { CACert: root.certPem, CAKey: root.keyPem, Phase: 'trust' };
  }

  /** `GET /swarm/unlockkey`: empty while autolock is off. */
  unlockKey(): { UnlockKey: string } {
    return { UnlockKey: this.cluster().UnlockKey ?? '' };
  }

  // ---------- nodes ----------

  listNodes(): NodeObject[] {
    return this.store.view((tx) => tx.all('node'));
  }

  getNode(ref: string): NodeObject {
    return resolveRef(this.listNodes(), ref, (n) => n.Spec.Name || n.Description.Hostname, 'node');
  }

  async updateNode(id: string, version: number, spec: NodeSpec): Promise<void> {
    if (!['worker', 'manager'].includes(spec.Role)) throw rpcError('invalid_argument', `invalid role ${String(spec.Role)}`);
    if (!['active', 'pause', 'drain'].includes(spec.Availability)) throw rpcError('invalid_argument', `invalid availability ${String(spec.Availability)}`);
    await this.write((tx) => {
      const cur = tx.get('node', id);
      if (!cur) throw new ShoalError('not_found', `node ${id} not found`);
      if (cur.Spec.Role === 'manager' && spec.Role === 'worker') {
        const managers = tx.all('node').filter((n) => n.Spec.Role === 'manager');
        if (managers.length <= 1) throw rpcError('failed_precondition', 'attempting to demote the last manager of the swarm');
      }
      tx.update('node', { ...cur, Version: { Index: version }, Spec: { ...spec, Labels: spec.Labels ?? {} } });
    });
  }

  async removeNode(ref: string, force: boolean): Promise<void> {
    const node = this.getNode(ref);
    if (node.Spec.Role === 'manager' || node.ManagerStatus) {
      throw rpcError(
        'failed_precondition',
        `node ${node.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`,
      );
    }
    if (!force && node.Status.State !== 'down') {
      throw rpcError(
        'failed_precondition',
        `node ${node.ID} is not down and can't be removed`,
      );
    }
    await this.write((tx) => {
      tx.delete('node', node.ID);
      // Its tasks can never report again; mark them orphaned so orchestration replaces them.
      for (const t of tx.find('task', (x) => x.NodeID === node.ID && !isTerminal(x.Status.State))) {
        tx.update('task', { ...t, Status: { ...t.Status, State: 'orphaned', Message: 'node removed', Timestamp: tx.now } });
      }
    });
  }

  // ---------- services ----------

  listServices(): ServiceObject[] {
    return this.store.view((tx) => tx.all('service'));
  }

  getService(ref: string): ServiceObject {
    return resolveRef(this.listServices(), ref, (s) => s.Spec.Name, 'service');
  }

  serviceStatus(id: string): ServiceStatus {
    return this.store.view((tx) => {
      const s = tx.get('service', id);
      if (!s) throw new ShoalError('not_found', `service ${id} not found`);
      const nodes = new Map(tx.all('node').map((n) => [n.ID as string, n]));
      const tasks = tx.find('task', (t) => t.ServiceID === id);
      const running = tasks.filter(
        (t) => t.Status.State === 'running' && t.DesiredState === 'running' && t.NodeID && nodes.get(t.NodeID)?.Status.State !== 'down',
      ).length;
      let desired: number;
      if ('Replicated' in s.Spec.Mode) desired = s.Spec.Mode.Replicated.Replicas ?? 1;
      else desired = tasks.filter((t) => t.DesiredState === 'running').length;
      const completed = tasks.filter((t) => t.Status.State === 'complete').length;
      return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed };
    });
  }

  async createService(spec: ServiceSpec): Promise<{ id: string; warnings: string[] }> {
    const s = normalizeServiceSpec(spec);
    if (!s.Name) s.Name = randomName(this.random);
    validateServiceSpec(s);
    const id = newId<ServiceId>(this.random);
    await this.write((tx) => {
      if (tx.all('service').some((o) => o.Spec.Name === s.Name)) {
        throw rpcError('already_exists', `name conflicts with an existing object: service ${s.Name} already exists`);
      }
      const service: ServiceObject = {
        ID: id,
        Version: { Index: 0 },
        CreatedAt: tx.now,
        UpdatedAt: tx.now,
        Spec: s,
        SpecVersion: 1,
        Endpoint: { Spec: {} },
      };
      tx.create('service', service);
    });
    return { id, warnings: ingressWarnings(s) };
  }

  async updateService(id: string, version: number, spec: ServiceSpec, opts: UpdateServiceOptions): Promise<{ warnings: string[] }> {
    let warnings: string[] = [];
    await this.write((tx) => {
      const cur = tx.get('service', id);
      if (!cur) throw new ShoalError('not_found', `service ${id} not found`);
      if (cur.Version.Index !== version) throw rpcError('unknown', 'update out of sequence');
      let next: ServiceSpec;
      let previous: ServiceSpec | undefined;
      if (opts.rollback) {
        if (!cur.PreviousSpec) throw rpcError('failed_precondition', `service ${cur.ID} does not have a previous spec`);
        next = structuredClone(cur.PreviousSpec);
        previous = structuredClone(cur.Spec);
      } else {
        next = normalizeServiceSpec(spec);
        validateServiceSpec(next);
        previous = structuredClone(cur.Spec);
      }
      if (next.Name !== cur.Spec.Name) throw rpcError('unimplemented', 'renaming services is not supported');
      if (modeName(next) !== modeName(cur.Spec)) throw rpcError('invalid_argument', 'service mode change is not allowed');
      const taskChanged = !sameValue(next.TaskTemplate, cur.Spec.TaskTemplate);
      const portsChanged = !sameValue(next.EndpointSpec ?? {}, cur.Spec.EndpointSpec ?? {});
      // Clients that do not know the extension (the docker CLI) drop it: keep the current value.
      if (next.Rebalance === undefined && cur.Spec.Rebalance !== undefined) next.Rebalance = cur.Spec.Rebalance;
      const rebalance = !opts.rollback && (next.Rebalance ?? 0) > (cur.Spec.Rebalance ?? 0);
      const updated: ServiceObject = {
        ...cur,
        Spec: next,
        PreviousSpec: previous,
        SpecVersion: taskChanged || portsChanged || rebalance ? cur.SpecVersion + 1 : cur.SpecVersion,
      };
      delete updated.RebalanceTasks;
      if (rebalance) {
        if (!('Replicated' in next.Mode)) throw rpcError('invalid_argument', 'only replicated services can be rebalanced');
        updated.RebalanceTasks = tasksToRebalance(cur, tx.all('node'), tx.all('task'));
      }
      if (opts.rollback) updated.UpdateStatus = { State: 'rollback_started', StartedAt: tx.now, Message: 'manually requested rollback' };
      else if (taskChanged || portsChanged || rebalance) delete updated.UpdateStatus;
      tx.update('service', updated);
      warnings = ingressWarnings(next);
    });
    return { warnings };
  }

  async removeService(ref: string): Promise<void> {
    const service = this.getService(ref);
    await this.write((tx) => {
      if (!tx.get('service', service.ID)) throw new ShoalError('not_found', `service ${ref} not found`);
      tx.delete('service', service.ID);
      for (const t of tx.find('task', (x) => x.ServiceID === service.ID)) {
        if (t.DesiredState !== 'remove') tx.update('task', { ...t, DesiredState: 'remove' });
      }
    });
  }

  // ---------- tasks ----------

  listTasks(): TaskObject[] {
    return this.store.view((tx) => tx.all('task'));
  }

  getTask(ref: string): TaskObject {
    return resolveRef(this.listTasks(), ref, () => '', 'task');
  }

  // ---------- logs ----------

  serviceLogs(ref: string, opts: LogOptions): AsyncIterable<LogLine> {
    const service = this.getService(ref);
    const tasksOf = (): TaskObject[] => this.store.view((tx) => tx.find('task', (t) => t.ServiceID === service.ID && Boolean(t.NodeID)));
    return mergeLogStreams(tasksOf, this.logSource, opts, () => Boolean(this.store.view((tx) => tx.get('service', service.ID))));
  }

  taskLogs(ref: string, opts: LogOptions): AsyncIterable<LogLine> {
    const task = this.getTask(ref);
    return mergeLogStreams(() => [task], this.logSource, opts, () => false);
  }

  private async write(fn: Parameters<Store['update']>[0]): Promise<void> {
    try {
      await this.store.update(fn);
    } catch (e) {
      throw asRpcError(e);
    }
  }
}

/** Fills what Docker's daemon fills before handing a spec to swarmkit. */
export function normalizeServiceSpec(spec: ServiceSpec): ServiceSpec {
  const s = structuredClone(spec);
  s.Labels ??= {};
  s.TaskTemplate ??= {};
  s.TaskTemplate.ForceUpdate ??= 0;
  // The defaults the Engine API shows are stored, so a spec read and sent back compares equal.
  s.TaskTemplate.Runtime ??= 'container';
  if (s.TaskTemplate.ContainerSpec) s.TaskTemplate.ContainerSpec.Isolation ??= 'default';
  s.EndpointSpec ??= {};
  s.EndpointSpec.Mode ??= 'vip';
  s.Mode ??= { Replicated: { Replicas: 1 } };
  if ('Replicated' in s.Mode) {
    s.Mode.Replicated ??= {};
    s.Mode.Replicated.Replicas ??= 1;
  }
  if (s.EndpointSpec && s.EndpointSpec.Ports) {
    for (const p of s.EndpointSpec.Ports) {
      p.Protocol ??= 'tcp';
      p.PublishMode ??= 'ingress';
    }
  }
  return s;
}

export function normalizeClusterSpec(spec: Partial<ClusterSpec> | undefined, base?: ClusterSpec): ClusterSpec {
  const s = spec ?? {};
  const pick = <T>(v: T | undefined, b: T | undefined, d: T): T => (v !== undefined && v !== 0 ? v : (b ?? d));
  return {
    Name: s.Name || base?.Name || 'default',
    Labels: s.Labels ?? base?.Labels ?? {},
    Orchestration: {
      TaskHistoryRetentionLimit: s.Orchestration?.TaskHistoryRetentionLimit ?? base?.Orchestration.TaskHistoryRetentionLimit ?? 5,
    },
    Raft: {
      SnapshotInterval: pick(s.Raft?.SnapshotInterval, base?.Raft.SnapshotInterval, 10000),
      KeepOldSnapshots: s.Raft?.KeepOldSnapshots ?? base?.Raft.KeepOldSnapshots ?? 0,
      LogEntriesForSlowFollowers: pick(s.Raft?.LogEntriesForSlowFollowers, base?.Raft.LogEntriesForSlowFollowers, 500),
      ElectionTick: pick(s.Raft?.ElectionTick, base?.Raft.ElectionTick, 10),
      HeartbeatTick: pick(s.Raft?.HeartbeatTick, base?.Raft.HeartbeatTick, 1),
    },
    Dispatcher: { HeartbeatPeriod: pick(s.Dispatcher?.HeartbeatPeriod, base?.Dispatcher.HeartbeatPeriod, 5_000_000_000) },
    CAConfig: { ...(base?.CAConfig ?? {}), ...(s.CAConfig ?? {}), NodeCertExpiry: pick(s.CAConfig?.NodeCertExpiry, base?.CAConfig.NodeCertExpiry, 7_776_000_000_000_000) },
    TaskDefaults: s.TaskDefaults ?? base?.TaskDefaults ?? {},
    EncryptionConfig: { AutoLockManagers: s.EncryptionConfig?.AutoLockManagers ?? base?.EncryptionConfig.AutoLockManagers ?? false },
  };
}

/** Until the routing mesh lands, ingress ports are allocated and shown but not published. */
function ingressWarnings(spec: ServiceSpec): string[] {
  const ingress = (spec.EndpointSpec?.Ports ?? []).filter((p) => (p.PublishMode ?? 'ingress') === 'ingress');
  if (ingress.length === 0) return [];
  return [
    `shoal: the routing mesh is not available yet; ingress port(s) ${ingress.map((p) => p.PublishedPort ?? p.TargetPort).join(', ')} are allocated but not published (use mode=host to publish on the node)`,
  ];
}
