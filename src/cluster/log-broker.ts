/**
 * Logs of tasks on other nodes (swarm's log broker). Workers do not listen, so the leader asks for a
 * task's logs down the node's dispatcher session stream, and the node publishes the lines back in
 * batches as calls. A node whose session ends (it died, or its link was cut) ends its subscriptions
 * with one clear line instead of leaving the reader hanging (moby#33183).
 */
import { errorMessage } from '../common/errors.js';
import { newId } from '../common/ids.js';
import { cryptoRandom } from '../common/random.js';
import type { TaskLogReader } from '../manager/controlapi/logs.js';
import type { ClusterClient } from './client.js';

export interface RawLine {
  stream: 1 | 2;
  timestamp: string;
  line: string;
}

type ReadOptions = Parameters<TaskLogReader['logs']>[1];

/** Down the session stream: start or stop sending a task's logs. */
export type LogControlMessage =
  { logs: { id: string; taskId: string; opts: Omit<ReadOptions, 'signal'> } } | { logsCancel: string };

/** Up as a call: lines of a subscription, and its end. */
export interface PublishCall {
  id: string;
  lines: RawLine[];
  done?: boolean;
  error?: string;
}

interface Subscription {
  nodeId: string;
  queue: RawLine[];
  wake: (() => void) | undefined;
  /** A publisher waiting for the reader to take lines (backpressure up to the node). */
  drained: (() => void) | undefined;
  done: boolean;
  error: string | undefined;
}

const PUBLISH_BATCH_MS = 100;
const PUBLISH_BATCH_LINES = 500;
/** A publish waits as long as the reader is slow; a dead leader is noticed by the connection's keepalive. */
const PUBLISH_TIMEOUT_MS = 3600_000;
/** Lines held for a slow reader before the node's next publish waits (and so its reading of the logs). */
const QUEUE_HIGH = 1000;

/** The leader's side. */
export class LogBroker {
  private subs = new Map<string, Subscription>();
  private sessions = new Map<string, (m: LogControlMessage) => boolean>();

  /** A node's session stream is open: log requests can reach it. Returns the detach function. */
  attach(nodeId: string, send: (m: LogControlMessage) => boolean): () => void {
    this.sessions.set(nodeId, send);
    return () => {
      if (this.sessions.get(nodeId) !== send) return;
      this.sessions.delete(nodeId);
      for (const s of this.subs.values())
        if (s.nodeId === nodeId && !s.done) this.finish(s, `node ${nodeId} went away; its logs stop here`);
    };
  }

  /** A reader for a node with a session, or undefined (the node is not reachable). */
  reader(nodeId: string): TaskLogReader | undefined {
    if (!this.sessions.has(nodeId)) return undefined;
    return { logs: (taskId, opts) => this.read(nodeId, taskId, opts) };
  }

  /**
   * Lines a node published; a node can only publish for its own subscriptions. Resolves once the
   * reader has room again, so a slow reader slows the node down instead of filling the leader's memory.
   */
  async publish(nodeId: string, call: PublishCall): Promise<void> {
    const s = this.subs.get(call.id);
    if (!s || s.nodeId !== nodeId) return;
    s.queue.push(...call.lines);
    if (call.done) this.finish(s, call.error);
    s.wake?.();
    while (s.queue.length > QUEUE_HIGH && !s.done) await new Promise<void>((r) => (s.drained = r));
  }

  private finish(s: Subscription, error: string | undefined): void {
    s.done = true;
    s.error = error;
    s.wake?.();
    s.drained?.();
  }

  private async *read(nodeId: string, taskId: string, opts: ReadOptions): AsyncGenerator<RawLine> {
    const id = newId(cryptoRandom);
    const s: Subscription = { nodeId, queue: [], wake: undefined, drained: undefined, done: false, error: undefined };
    this.subs.set(id, s);
    const { signal, ...rest } = opts;
    const onAbort = (): void => this.finish(s, undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const send = this.sessions.get(nodeId);
      if (!send || !send({ logs: { id, taskId, opts: rest } }))
        throw new Error(`node ${nodeId} is not reachable, its logs are unavailable`);
      for (;;) {
        while (s.queue.length) {
          yield s.queue.shift()!;
          if (s.queue.length <= QUEUE_HIGH / 2) s.drained?.();
        }
        if (s.done) break;
        await new Promise<void>((r) => (s.wake = r));
        s.wake = undefined;
      }
      if (s.error) throw new Error(s.error);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.subs.delete(id);
      this.sessions.get(nodeId)?.({ logsCancel: id });
    }
  }
}

/** The node's side: answers log requests from its local runtime, publishing to the leader. */
export class LogPublisher {
  private running = new Map<string, AbortController>();

  constructor(
    private readonly reader: TaskLogReader,
    private readonly client: ClusterClient,
  ) {}

  handle(leader: string, m: LogControlMessage): void {
    if ('logsCancel' in m) {
      this.running.get(m.logsCancel)?.abort();
      return;
    }
    const { id, taskId, opts } = m.logs;
    const ac = new AbortController();
    this.running.set(id, ac);
    void this.pump(leader, id, taskId, { ...opts, signal: ac.signal }).finally(() => this.running.delete(id));
  }

  stopAll(): void {
    for (const ac of this.running.values()) ac.abort();
    this.running.clear();
  }

  private async pump(leader: string, id: string, taskId: string, opts: ReadOptions): Promise<void> {
    let batch: RawLine[] = [];
    let last = Date.now();
    // One publish at a time: the leader answers a publish only once its reader has room, and until
    // then this node reads no further (the engine's log stream waits too).
    let chain: Promise<void> = Promise.resolve();
    let pending = false;
    const flush = (end?: { error?: string }): Promise<void> => {
      pending = true;
      chain = chain.then(async () => {
        pending = false;
        const lines = batch;
        batch = [];
        last = Date.now();
        await this.client.call(
          leader,
          '/logs/publish',
          { id, lines, ...(end ? { done: true, error: end.error } : {}) } satisfies PublishCall,
          PUBLISH_TIMEOUT_MS,
        );
      });
      return chain;
    };
    let error: string | undefined;
    try {
      // A follow stream is drained as lines come; batches go up every 100 ms or 500 lines.
      const timer = setInterval(() => {
        if (!pending && batch.length && Date.now() - last >= PUBLISH_BATCH_MS) void flush().catch(() => undefined);
      }, PUBLISH_BATCH_MS);
      try {
        for await (const l of this.reader.logs(taskId, opts)) {
          batch.push(l);
          if (batch.length >= PUBLISH_BATCH_LINES) await flush();
        }
      } finally {
        clearInterval(timer);
      }
    } catch (e) {
      if (!opts.signal?.aborted) error = errorMessage(e);
    }
    if (opts.signal?.aborted) return;
    await flush({ error }).catch(() => undefined);
  }
}
