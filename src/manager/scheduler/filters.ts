/**
 * Scheduler filters, in swarmkit's order. Each says whether a node can take a task and, when it
 * cannot, how to explain it in the Pending message (`no suitable node (...)`).
 */
import type { NodeObject, TaskObject } from '../../store/types.js';
import { parseConstraints, constraintsHold } from './constraint.js';

/** What the pipeline knows about a node while placing a batch of tasks. */
export interface NodeInfo {
  readonly node: NodeObject;
  /** Non-terminal tasks on the node (desired running or ready), by service. */
  tasksByService: Map<string, number>;
  totalTasks: number;
  reservedNanoCPUs: number;
  reservedMemory: number;
  usedHostPorts: Set<string>;
}

export interface Filter {
  readonly name: string;
  /** Whether this filter has anything to check for the task at all. */
  enabled(task: TaskObject): boolean;
  check(task: TaskObject, node: NodeInfo): boolean;
  /** Explanation for `nodes` rejections, as Docker words it. */
  explain(nodes: number): string;
}

const plural = (n: number): string => (n === 1 ? '1 node' : `${n} nodes`);

export const readyFilter: Filter = {
  name: 'ready',
  enabled: () => true,
  check: (_t, n) => n.node.Status.State === 'ready' && n.node.Spec.Availability === 'active',
  explain: (n) => `${n === 1 ? '1 node' : `${n} nodes`} not available for new tasks`,
};

export const resourceFilter: Filter = {
  name: 'resources',
  enabled: (t) => Boolean(t.Spec.Resources?.Reservations?.NanoCPUs || t.Spec.Resources?.Reservations?.MemoryBytes),
  check(t, n) {
    const r = t.Spec.Resources?.Reservations ?? {};
    const cap = n.node.Description.Resources;
    if (r.NanoCPUs && n.reservedNanoCPUs + r.NanoCPUs > cap.NanoCPUs) return false;
    if (r.MemoryBytes && n.reservedMemory + r.MemoryBytes > cap.MemoryBytes) return false;
    return true;
  },
  explain: (n) => `insufficient resources on ${plural(n)}`,
};

/** Plugins a task needs on its node: volume drivers of its mounts and its log driver. */
function requiredPlugins(t: TaskObject): { Type: string; Name: string }[] {
  const need: { Type: string; Name: string }[] = [];
  for (const m of t.Spec.ContainerSpec?.Mounts ?? []) {
    const driver = m.Type === 'volume' ? m.VolumeOptions?.DriverConfig?.Name : undefined;
    if (driver) need.push({ Type: 'Volume', Name: driver });
  }
  const log = t.Spec.LogDriver?.Name;
  if (log && log !== 'none') need.push({ Type: 'Log', Name: log });
  return need;
}

export const pluginFilter: Filter = {
  name: 'plugins',
  enabled: (t) => requiredPlugins(t).length > 0,
  check(t, n) {
    const have = n.node.Description.Engine.Plugins;
    // Engines that report no log plugins at all predate that report: do not hold it against them.
    const reportsLog = have.some((p) => p.Type === 'Log');
    return requiredPlugins(t).every(
      (need) =>
        (need.Type === 'Log' && !reportsLog) ||
        have.some((p) => p.Type === need.Type && (p.Name === need.Name || p.Name === `${need.Name}:latest`)),
    );
  },
  explain: (n) => `missing plugin on ${plural(n)}`,
};

export const constraintFilter: Filter = {
  name: 'constraints',
  enabled: (t) => (t.Spec.Placement?.Constraints?.length ?? 0) > 0,
  check: (t, n) => constraintsHold(parseConstraints(t.Spec.Placement?.Constraints ?? []), n.node),
  explain: (n) => `scheduling constraints not satisfied on ${plural(n)}`,
};

export const platformFilter: Filter = {
  name: 'platform',
  enabled: (t) => (t.Spec.Placement?.Platforms?.length ?? 0) > 0,
  check(t, n) {
    const p = n.node.Description.Platform;
    const arch = (a: string): string => (a === 'amd64' ? 'x86_64' : a === 'arm64' ? 'aarch64' : a);
    return (t.Spec.Placement?.Platforms ?? []).some(
      (want) =>
        (!want.OS || want.OS === p.OS) && (!want.Architecture || arch(want.Architecture) === arch(p.Architecture)),
    );
  },
  explain: (n) => `unsupported platform on ${plural(n)}`,
};

export function hostPorts(t: TaskObject): string[] {
  return (t.Endpoint?.Ports ?? [])
    .filter((p) => p.PublishMode === 'host' && p.PublishedPort)
    .map((p) => `${p.Protocol ?? 'tcp'}/${p.PublishedPort}`);
}

export const hostPortFilter: Filter = {
  name: 'hostport',
  enabled: (t) => hostPorts(t).length > 0,
  check: (t, n) => hostPorts(t).every((p) => !n.usedHostPorts.has(p)),
  explain: (n) => `host-mode port already in use on ${plural(n)}`,
};

export const maxReplicasFilter: Filter = {
  name: 'maxreplicas',
  enabled: (t) => (t.Spec.Placement?.MaxReplicas ?? 0) > 0,
  check: (t, n) => (n.tasksByService.get(t.ServiceID) ?? 0) < (t.Spec.Placement?.MaxReplicas ?? 0),
  explain: (n) => `max replicas per node limit exceed on ${plural(n)}`,
};

export const FILTERS: readonly Filter[] = [
  readyFilter,
  resourceFilter,
  pluginFilter,
  constraintFilter,
  platformFilter,
  hostPortFilter,
  maxReplicasFilter,
];
