/**
 * One page's view of a manager's store: a snapshot of nodes, services and current tasks, then the
 * committed changes as deltas. Changes are gathered until the store's commit marker and sent in one
 * message per turn of the event loop, so a burst of commits (a 5,000-task scale) becomes a few
 * messages instead of thousands; nothing waits on a timer.
 */
import type { StoreEvent } from '../store/actions.js';
import type { Store } from '../store/store.js';
import type { NodeObject, ServiceObject, TaskObject } from '../store/types.js';
import { isCurrent, uiNode, uiService, uiTask } from './view-model.js';
import type { UiDelta, UiNode, UiService, UiSnapshot, UiTask } from './wire.js';

export function snapshotOf(store: Store, self: string): UiSnapshot {
  return store.view((tx) => ({
    kind: 'snapshot',
    index: store.index,
    self,
    nodes: tx.all('node').map(uiNode),
    services: tx.all('service').map(uiService),
    tasks: tx.find('task', isCurrent).map(uiTask),
  }));
}

/** Changes since the last flush, keyed by ID so an object changed twice is sent once. */
class Pending {
  readonly nodes = new Map<string, UiNode | null>();
  readonly services = new Map<string, UiService | null>();
  readonly tasks = new Map<string, UiTask | null>();
  index = 0;

  add(e: Exclude<StoreEvent, { kind: 'commit' }>): void {
    const gone = e.kind === 'delete';
    switch (e.table) {
      case 'node':
        this.nodes.set(e.object.ID, gone ? null : uiNode(e.object as NodeObject));
        break;
      case 'service':
        this.services.set(e.object.ID, gone ? null : uiService(e.object as ServiceObject));
        break;
      case 'task': {
        const t = e.object as TaskObject;
        // A task leaving the board is a removal for the page, as much as a deleted one.
        this.tasks.set(t.ID, gone || !isCurrent(t) ? null : uiTask(t));
        break;
      }
      default:
        break;
    }
  }

  get empty(): boolean {
    return this.nodes.size + this.services.size + this.tasks.size === 0;
  }

  take(): UiDelta {
    const split = <T>(m: Map<string, T | null>): [T[], string[]] => {
      const up: T[] = [];
      const gone: string[] = [];
      for (const [id, v] of m)
        if (v === null) gone.push(id);
        else up.push(v);
      m.clear();
      return [up, gone];
    };
    const [nodes, rn] = split(this.nodes);
    const [services, rs] = split(this.services);
    const [tasks, rt] = split(this.tasks);
    return {
      kind: 'delta',
      index: this.index,
      nodes,
      services,
      tasks,
      removed: { nodes: rn, services: rs, tasks: rt },
    };
  }
}

/** Follows `store` and calls `send` with each delta; returns the unsubscribe function. */
export function followStore(store: Store, send: (d: UiDelta) => void): () => void {
  const pending = new Pending();
  let scheduled = false;
  let closed = false;
  const flush = (): void => {
    scheduled = false;
    if (!closed && !pending.empty) send(pending.take());
  };
  const unwatch = store.watch((events) => {
    for (const e of events) {
      if (e.kind === 'commit') {
        pending.index = e.index;
        if (!scheduled && !pending.empty) {
          scheduled = true;
          setImmediate(flush);
        }
      } else pending.add(e);
    }
  });
  return () => {
    closed = true;
    unwatch();
  };
}
