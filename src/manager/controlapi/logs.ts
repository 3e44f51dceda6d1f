/**
 * Service logs: the lines of every task of a service, gathered from the nodes that ran them and
 * merged into one stream. With follow, tasks that appear later join the stream; a node whose logs
 * cannot be reached yields one clear line instead of hanging the whole stream.
 */
import { errorMessage } from '../../common/errors.js';
import type { TaskObject } from '../../store/types.js';
import type { LogLine, LogOptions, LogSource } from './api.js';
import type { ControlContext } from './context.js';
import { findService } from './service.js';
import { findTask } from './task.js';

export type { LogSource, TaskLogReader } from './api.js';

/** `service logs`: every task of the service (and, with follow, the tasks it gets later). */
export function serviceLogs(ctx: ControlContext, ref: string, opts: LogOptions): AsyncIterable<LogLine> {
  const service = findService(ctx.store, ref);
  const tasksOf = (): TaskObject[] =>
    ctx.store.view((tx) => tx.find('task', (t) => t.ServiceID === service.ID && Boolean(t.NodeID)));
  return mergeLogStreams(tasksOf, ctx.logSource, opts, () =>
    Boolean(ctx.store.view((tx) => tx.get('service', service.ID))),
  );
}

/** `service logs TASK`: one task's lines. */
export function taskLogs(ctx: ControlContext, ref: string, opts: LogOptions): AsyncIterable<LogLine> {
  const task = findTask(ctx.store, ref);
  return mergeLogStreams(
    () => [task],
    ctx.logSource,
    opts,
    () => false,
  );
}

const NEW_TASK_POLL_MS = 1000;
/** Lines held for a slow client before the tasks' streams wait. */
const QUEUE_HIGH = 1000;

export async function* mergeLogStreams(
  tasksOf: () => TaskObject[],
  source: LogSource,
  opts: LogOptions,
  stillFollowing: () => boolean,
): AsyncGenerator<LogLine> {
  const queue: LogLine[] = [];
  let notify: (() => void) | undefined;
  const started = new Set<string>();
  let active = 0;
  const abort = new AbortController();
  opts.signal?.addEventListener('abort', () => abort.abort());
  const push = (l: LogLine): void => {
    queue.push(l);
    notify?.();
  };
  // A slow client: producers wait while the merged queue is full, so the nodes' streams slow down too.
  let roomWaiters: (() => void)[] = [];
  const room = async (): Promise<void> => {
    while (queue.length >= QUEUE_HIGH && !abort.signal.aborted) await new Promise<void>((r) => roomWaiters.push(r));
  };
  const freeRoom = (): void => {
    const w = roomWaiters;
    roomWaiters = [];
    for (const r of w) r();
  };
  abort.signal.addEventListener('abort', freeRoom);

  const startTask = (t: TaskObject): void => {
    if (started.has(t.ID) || !t.NodeID) return;
    started.add(t.ID);
    const base = { nodeId: t.NodeID, serviceId: t.ServiceID, taskId: t.ID };
    const reader = source(t.NodeID);
    if (!reader) {
      push({
        ...base,
        stream: 2,
        timestamp: new Date().toISOString(),
        line: `error from node ${t.NodeID}: node is not reachable, its logs are unavailable`,
      });
      return;
    }
    active++;
    void (async () => {
      try {
        for await (const l of reader.logs(t.ID, { ...opts, signal: abort.signal })) {
          await room();
          push({ ...base, ...l });
        }
      } catch (e) {
        if (!abort.signal.aborted)
          push({
            ...base,
            stream: 2,
            timestamp: new Date().toISOString(),
            line: `error from task ${t.ID}: ${errorMessage(e)}`,
          });
      } finally {
        active--;
        notify?.();
      }
    })();
  };

  for (const t of tasksOf()) startTask(t);
  let poll: NodeJS.Timeout | undefined;
  if (opts.follow) {
    poll = setInterval(() => {
      if (!stillFollowing()) return;
      for (const t of tasksOf()) startTask(t);
    }, NEW_TASK_POLL_MS);
  }
  try {
    for (;;) {
      while (queue.length > 0) {
        yield queue.shift()!;
        if (queue.length < QUEUE_HIGH / 2) freeRoom();
      }
      if (abort.signal.aborted) return;
      if (!opts.follow && active === 0) return;
      await new Promise<void>((r) => {
        notify = r;
        if (opts.follow) setTimeout(r, NEW_TASK_POLL_MS).unref();
      });
      notify = undefined;
    }
  } finally {
    clearInterval(poll);
    abort.abort();
  }
}
