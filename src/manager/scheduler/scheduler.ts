/**
 * The scheduler of the leader: watches for tasks in PENDING without a node and assigns them, in one
 * store transaction per pass. Passes are debounced so a burst of new tasks is placed together.
 * A task whose service depends on others (`DependsOn`) is held back first, by the dependency gate.
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logging.js';
import type { NodeId } from '../../common/ids.js';
import type { Store } from '../../store/store.js';
import type { TaskObject } from '../../store/types.js';
import { DependencyGate } from './dependencies.js';
import { schedule } from './pipeline.js';
import { Reconciler } from '../reconciler.js';

export class Scheduler extends Reconciler {
  constructor(
    store: Store,
    clock: Clock,
    logger: Logger,
    /** Told, once a pass is committed, each assigned task's delay from creation to assignment (seconds). */
    private readonly observeDelay?: (seconds: number) => void,
  ) {
    super('scheduler', store, clock, logger, 20);
  }

  protected override interested(table: string): boolean {
    // Services too: a dependency created, removed or scaled, or DependsOn changed, can release a task.
    return table === 'task' || table === 'node' || table === 'service';
  }

  protected async reconcile(): Promise<void> {
    const delays: number[] = [];
    await this.store.update((tx) => {
      delays.length = 0;
      const tasks = tx.all('task');
      const unassigned = tasks
        .filter((t) => t.Status.State === 'pending' && t.DesiredState !== 'remove' && t.DesiredState !== 'shutdown')
        .sort((a, b) => a.CreatedAt - b.CreatedAt || a.Slot - b.Slot);
      if (unassigned.length === 0) return;
      const nodes = tx.all('node');
      const gate = new DependencyGate(tx.all('service'), tasks, nodes);
      const free: TaskObject[] = [];
      for (const t of unassigned) {
        const wait = gate.waitReason(t.ServiceID);
        if (wait === undefined) free.push(t);
        else if (t.Status.Err !== wait)
          tx.update('task', {
            ...t,
            Status: { ...t.Status, Message: 'waiting for dependencies', Err: wait, Timestamp: tx.now },
          });
      }
      if (free.length === 0) return;
      for (const d of schedule(nodes, tasks, free)) {
        const cur = tx.get('task', d.task.ID);
        if (!cur) continue;
        if (d.kind === 'assign') {
          const next: TaskObject = {
            ...cur,
            NodeID: d.nodeId as NodeId,
            Status: {
              ...cur.Status,
              State: 'assigned',
              Message: 'scheduler assigned task to node',
              Timestamp: tx.now,
              Err: undefined,
            },
          };
          tx.update('task', next);
          delays.push(Math.max(0, tx.now - cur.CreatedAt) / 1000);
        } else if (cur.Status.Err !== d.reason) {
          tx.update('task', {
            ...cur,
            Status: { ...cur.Status, Message: 'pending task scheduling', Err: d.reason, Timestamp: tx.now },
          });
        }
      }
    });
    if (this.observeDelay) for (const d of delays) this.observeDelay(d);
  }
}
