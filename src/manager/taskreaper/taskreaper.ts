/**
 * The task reaper: deletes what nobody needs any more — tasks marked for removal once they stopped,
 * tasks of deleted services, and history beyond the cluster's TaskHistoryRetentionLimit per slot
 * (replicated) or per node (global).
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logging.js';
import type { Store } from '../../store/store.js';
import { isTerminal, type TaskObject } from '../../store/types.js';
import { Reconciler } from '../reconciler.js';

export const DEFAULT_TASK_HISTORY = 5;

export class TaskReaper extends Reconciler {
  constructor(store: Store, clock: Clock, logger: Logger) {
    super('taskreaper', store, clock, logger, 100);
  }

  protected override interested(table: string): boolean {
    return table === 'task' || table === 'service' || table === 'cluster';
  }

  protected async reconcile(): Promise<void> {
    await this.store.update((tx) => {
      const cluster = tx.all('cluster')[0];
      const limit = cluster?.Spec.Orchestration.TaskHistoryRetentionLimit ?? DEFAULT_TASK_HISTORY;
      const stopped = (t: TaskObject): boolean => isTerminal(t.Status.State) || !t.NodeID;
      const groups = new Map<string, TaskObject[]>();
      for (const t of tx.all('task')) {
        const serviceGone = !tx.get('service', t.ServiceID);
        if ((t.DesiredState === 'remove' || serviceGone) && stopped(t)) {
          tx.delete('task', t.ID);
          continue;
        }
        if (serviceGone && t.DesiredState !== 'remove') {
          tx.update('task', { ...t, DesiredState: 'remove' });
          continue;
        }
        const key = `${t.ServiceID}/${t.Slot > 0 ? t.Slot : (t.NodeID ?? t.ID)}`;
        groups.set(key, [...(groups.get(key) ?? []), t]);
      }
      if (limit < 0) return;
      for (const tasks of groups.values()) {
        if (tasks.length <= limit) continue;
        const old = tasks
          .filter((t) => stopped(t) && t.DesiredState !== 'running' && t.DesiredState !== 'ready')
          .sort((a, b) => a.CreatedAt - b.CreatedAt);
        for (const t of old.slice(0, tasks.length - Math.max(limit, 1))) tx.delete('task', t.ID);
      }
    });
  }
}
