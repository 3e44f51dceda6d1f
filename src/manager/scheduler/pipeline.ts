/**
 * Placement as a pure function: given nodes and the current tasks, decide a node for each unassigned
 * task, or the reason it stays Pending. Spread: fewest tasks of the service, then fewest tasks
 * overall; placement preferences split the nodes into a tree of label groups, filled evenly.
 */
import { isTerminal, type NodeObject, type TaskObject } from '../../store/types.js';
import { FILTERS, hostPorts, type NodeInfo } from './filters.js';

export type Decision =
  | { readonly kind: 'assign'; readonly task: TaskObject; readonly nodeId: string }
  | { readonly kind: 'pending'; readonly task: TaskObject; readonly reason: string };

/** A task occupies its node while it is meant to run and has not ended. */
function occupies(t: TaskObject): boolean {
  return (
    Boolean(t.NodeID) &&
    !isTerminal(t.Status.State) &&
    (t.DesiredState === 'running' || t.DesiredState === 'ready' || t.DesiredState === 'complete')
  );
}

export function buildNodeInfos(nodes: readonly NodeObject[], tasks: readonly TaskObject[]): Map<string, NodeInfo> {
  const infos = new Map<string, NodeInfo>();
  for (const node of nodes) {
    infos.set(node.ID, {
      node,
      tasksByService: new Map(),
      totalTasks: 0,
      reservedNanoCPUs: 0,
      reservedMemory: 0,
      usedHostPorts: new Set(),
    });
  }
  for (const t of tasks) if (occupies(t)) addTask(infos.get(t.NodeID!), t);
  return infos;
}

function addTask(info: NodeInfo | undefined, t: TaskObject): void {
  if (!info) return;
  info.tasksByService.set(t.ServiceID, (info.tasksByService.get(t.ServiceID) ?? 0) + 1);
  info.totalTasks++;
  info.reservedNanoCPUs += t.Spec.Resources?.Reservations?.NanoCPUs ?? 0;
  info.reservedMemory += t.Spec.Resources?.Reservations?.MemoryBytes ?? 0;
  for (const p of hostPorts(t)) info.usedHostPorts.add(p);
}

/** Runs the filters; returns eligible nodes or the Pending explanation. */
export function filterNodes(task: TaskObject, infos: Iterable<NodeInfo>): { eligible: NodeInfo[]; reason: string } {
  const failures = new Map<string, number>();
  const eligible: NodeInfo[] = [];
  const filters = FILTERS.filter((f) => f.enabled(task));
  let total = 0;
  for (const info of infos) {
    total++;
    const failed = filters.find((f) => !f.check(task, info));
    if (failed) failures.set(failed.name, (failures.get(failed.name) ?? 0) + 1);
    else eligible.push(info);
  }
  if (eligible.length > 0) return { eligible, reason: '' };
  if (total === 0) return { eligible, reason: 'no suitable node' };
  const parts = [...failures.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => FILTERS.find((f) => f.name === name)!.explain(n));
  return { eligible, reason: `no suitable node (${parts.join('; ')})` };
}

function compareSpread(serviceId: string) {
  return (a: NodeInfo, b: NodeInfo): number =>
    (a.tasksByService.get(serviceId) ?? 0) - (b.tasksByService.get(serviceId) ?? 0) ||
    a.totalTasks - b.totalTasks ||
    (a.node.ID < b.node.ID ? -1 : a.node.ID > b.node.ID ? 1 : 0);
}

function labelValue(info: NodeInfo, descriptor: string): string {
  const d = descriptor.trim();
  if (d.startsWith('node.labels.')) return info.node.Spec.Labels[d.slice('node.labels.'.length)] ?? '';
  if (d.startsWith('engine.labels.'))
    return info.node.Description.Engine.Labels?.[d.slice('engine.labels.'.length)] ?? '';
  return '';
}

/** Picks a node: preferences narrow to the least-loaded label group at each level, then spread. */
export function pickNode(
  task: TaskObject,
  eligible: readonly NodeInfo[],
  allInfos: Iterable<NodeInfo>,
): NodeInfo | undefined {
  let candidates = [...eligible];
  const prefs = task.Spec.Placement?.Preferences ?? [];
  const all = [...allInfos];
  for (const pref of prefs) {
    const descriptor = pref.Spread.SpreadDescriptor;
    const groups = new Map<string, NodeInfo[]>();
    for (const c of candidates) {
      const v = labelValue(c, descriptor);
      groups.set(v, [...(groups.get(v) ?? []), c]);
    }
    // Load of a group = this service's tasks on every node with that label value, eligible or not.
    const load = (v: string): number =>
      all
        .filter((i) => labelValue(i, descriptor) === v)
        .reduce((s, i) => s + (i.tasksByService.get(task.ServiceID) ?? 0), 0);
    const best = [...groups.keys()].sort((a, b) => load(a) - load(b) || (a < b ? -1 : a > b ? 1 : 0))[0];
    if (best === undefined) break;
    candidates = groups.get(best)!;
  }
  return candidates.sort(compareSpread(task.ServiceID))[0];
}

/** Decides every unassigned task in order, counting earlier decisions of the same pass. */
export function schedule(
  nodes: readonly NodeObject[],
  tasks: readonly TaskObject[],
  unassigned: readonly TaskObject[],
): Decision[] {
  const infos = buildNodeInfos(nodes, tasks);
  const decisions: Decision[] = [];
  for (const task of unassigned) {
    // Global tasks arrive with their node chosen; the filters still decide whether it can run there.
    const pool = task.NodeID ? [infos.get(task.NodeID)].filter((i): i is NodeInfo => Boolean(i)) : [...infos.values()];
    const { eligible, reason } = filterNodes(task, pool);
    const chosen = eligible.length ? pickNode(task, eligible, infos.values()) : undefined;
    if (!chosen) {
      decisions.push({ kind: 'pending', task, reason: reason || 'no suitable node' });
      continue;
    }
    addTask(chosen, {
      ...task,
      NodeID: chosen.node.ID,
      DesiredState: 'running',
      Status: { ...task.Status, State: 'assigned' },
    });
    decisions.push({ kind: 'assign', task, nodeId: chosen.node.ID });
  }
  return decisions;
}
