/**
 * The page's copy of the cluster: nodes, services and current tasks, kept by applying the server's
 * snapshot and deltas, with tasks indexed by node so a column renders from its own tasks only.
 */
import type { UiMessage, UiNode, UiService, UiTask } from '../wire.js';

/** The column of tasks no node has yet (pending). */
export const UNASSIGNED = '';

export class BoardState {
  readonly nodes = new Map<string, UiNode>();
  readonly services = new Map<string, UiService>();
  readonly tasks = new Map<string, UiTask>();
  readonly byNode = new Map<string, Set<string>>();
  /** When (epoch ms) each task first reached the page: the update latency the tests measure. */
  readonly firstSeen = new Map<string, number>();
  self = '';
  index = 0;
  idle: string | undefined;

  apply(m: UiMessage, now: number): void {
    switch (m.kind) {
      case 'idle':
        this.idle = m.reason;
        this.clear();
        return;
      case 'snapshot':
        this.idle = undefined;
        this.clear();
        this.self = m.self;
        for (const n of m.nodes) this.nodes.set(n.id, n);
        for (const s of m.services) this.services.set(s.id, s);
        for (const t of m.tasks) this.putTask(t, now);
        this.index = m.index;
        return;
      case 'delta':
        for (const id of m.removed.nodes) this.nodes.delete(id);
        for (const id of m.removed.services) this.services.delete(id);
        for (const id of m.removed.tasks) this.dropTask(id);
        for (const n of m.nodes) this.nodes.set(n.id, n);
        for (const s of m.services) this.services.set(s.id, s);
        for (const t of m.tasks) this.putTask(t, now);
        this.index = m.index;
        return;
    }
  }

  private clear(): void {
    this.nodes.clear();
    this.services.clear();
    this.tasks.clear();
    this.byNode.clear();
  }

  private putTask(t: UiTask, now: number): void {
    const old = this.tasks.get(t.id);
    if (old && (old.nodeId ?? UNASSIGNED) !== (t.nodeId ?? UNASSIGNED))
      this.byNode.get(old.nodeId ?? UNASSIGNED)?.delete(t.id);
    this.tasks.set(t.id, t);
    const key = t.nodeId ?? UNASSIGNED;
    let set = this.byNode.get(key);
    if (!set) this.byNode.set(key, (set = new Set()));
    set.add(t.id);
    if (!this.firstSeen.has(t.id)) this.firstSeen.set(t.id, now);
  }

  private dropTask(id: string): void {
    const t = this.tasks.get(id);
    if (!t) return;
    this.tasks.delete(id);
    this.firstSeen.delete(id);
    this.byNode.get(t.nodeId ?? UNASSIGNED)?.delete(id);
  }

  /** Nodes in column order: managers first, then by hostname. */
  orderedNodes(): UiNode[] {
    return [...this.nodes.values()].sort(
      (a, b) => (a.role === b.role ? 0 : a.role === 'manager' ? -1 : 1) || a.hostname.localeCompare(b.hostname),
    );
  }

  /** CPU and memory the node's running-or-starting tasks reserve. */
  reserved(nodeId: string): { nanoCpus: number; memoryBytes: number } {
    let nanoCpus = 0;
    let memoryBytes = 0;
    for (const id of this.byNode.get(nodeId) ?? []) {
      const t = this.tasks.get(id);
      if (!t) continue;
      nanoCpus += t.nanoCpus;
      memoryBytes += t.memoryBytes;
    }
    return { nanoCpus, memoryBytes };
  }
}
