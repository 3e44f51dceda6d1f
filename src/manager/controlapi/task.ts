/** Tasks: `service ps`, `node ps`, `inspect` of a task. */
import type { Store } from '../../store/store.js';
import type { TaskObject } from '../../store/types.js';
import { read } from './method.js';
import { resolveRef } from './resolve.js';

/** ref = full id or unique id prefix. */
export function findTask(store: Store, ref: string): TaskObject {
  return resolveRef(
    store.view((tx) => tx.all('task')),
    ref,
    () => '',
    'task',
  );
}

export const taskMethods = {
  listTasks: read((ctx) => ctx.store.view((tx) => tx.all('task'))),
  getTask: read((ctx, ref: string) => findTask(ctx.store, ref)),
};
