/**
 * The dispatcher session over the cluster port. A node's agent asks any manager it knows where the
 * leader is, then holds a stream to the leader's dispatcher: the session and the node's assignments
 * come down it, heartbeats and batched status reports go up as calls naming the session. The node ID
 * is the caller's certificate's, so a node can only speak for itself.
 */
import { ShoalError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import type {
  AgentSession,
  Assignments,
  NetworkView,
  DispatcherEndpoint,
  SessionRequest,
  TaskStatusUpdate,
} from '../manager/dispatcher/session.js';
import type { TaskObject } from '../store/types.js';
import type { ClusterClient } from './client.js';
import type { LogBroker, LogControlMessage, LogPublisher } from './log-broker.js';
import type { CallContext, ClusterPort } from './port.js';
import {
  AssignedPayloadsSchema,
  NetworkViewSchema,
  schemaProblem,
  PublishCallSchema,
  SessionCallSchema,
  SessionRefSchema,
  StatusCallSchema,
  TaskStatusUpdateSchema,
} from './messages.js';

export interface ManagerAddr {
  nodeId: string;
  addr: string;
}

/** What any manager answers about the managers: the list, and the leader's cluster address if known. */
export interface ManagersAnswer {
  leader: string | undefined;
  managers: ManagerAddr[];
}

const EMPTY_VIEW: NetworkView = { networks: [], endpoints: [], services: [] };

/** How long the leader has to open a session once its stream is accepted. */
const SESSION_OPEN_TIMEOUT_MS = 15_000;

type SessionMessage =
  | { session: { id: string; heartbeatPeriodMs: number; managers: ManagerAddr[] } }
  | { assignments: TaskObject[]; networks?: unknown; payloads?: unknown }
  | LogControlMessage;

export interface RemoteDispatcherOptions {
  client: ClusterClient;
  /** The managers this node knows (from joining, then from every session). */
  managers: () => readonly ManagerAddr[];
  /** A session brought a fresh list of managers (persist it). */
  onManagers: (m: ManagerAddr[]) => void;
  /** Answers the leader's requests for this node's task logs. */
  logs?: LogPublisher;
  logger: Logger;
}

/** The agent's side: a DispatcherEndpoint whose sessions live on the leader, wherever it is. */
export class RemoteDispatcher implements DispatcherEndpoint {
  private next = 0;

  constructor(private readonly o: RemoteDispatcherOptions) {}

  /** The leader's address, asked of the known managers in turn. */
  async findLeader(): Promise<string> {
    const known = this.o.managers();
    if (known.length === 0) throw new ShoalError('unavailable', 'no manager known');
    let lastError = '';
    for (let i = 0; i < known.length; i++) {
      const m = known[(this.next + i) % known.length]!;
      try {
        const a = await this.o.client.call<ManagersAnswer>(m.addr, '/cluster/managers', {}, 5000);
        if (a.managers.length) this.o.onManagers(a.managers);
        if (a.leader) return a.leader;
        lastError = `${m.addr} knows no leader`;
      } catch (e) {
        lastError = errorMessage(e);
      }
    }
    this.next++;
    throw new ShoalError('unavailable', `no reachable manager knows a leader (${lastError})`);
  }

  async session(req: SessionRequest): Promise<AgentSession> {
    const leader = await this.findLeader();
    const abort = new AbortController();
    let latest: Assignments | undefined;
    const listeners: ((a: Assignments) => void)[] = [];
    const closeListeners: ((reason: string) => void)[] = [];
    let closed = false;
    const close = (reason: string): void => {
      if (closed) return;
      closed = true;
      abort.abort();
      this.o.logs?.stopAll();
      for (const cb of closeListeners) cb(reason);
    };
    let opened: ((v: { id: string; heartbeatPeriodMs: number }) => void) | undefined;
    let failedToOpen: ((e: unknown) => void) | undefined;
    const first = new Promise<{ id: string; heartbeatPeriodMs: number }>((resolve, reject) => {
      opened = resolve;
      failedToOpen = reject;
    });
    const body = { description: req.description, addr: req.addr };
    void this.o.client
      .stream(
        leader,
        '/dispatcher/session',
        body,
        (raw) => {
          const m = raw as SessionMessage;
          if ('session' in m) {
            if (m.session.managers.length) this.o.onManagers(m.session.managers);
            opened?.({ id: m.session.id, heartbeatPeriodMs: m.session.heartbeatPeriodMs });
          } else if ('assignments' in m) {
            const networks = NetworkViewSchema.safeParse(m.networks ?? EMPTY_VIEW);
            if (!networks.success) {
              // Never plumb what does not check out; the next assignment message replaces it.
              this.o.logger.warn('assignment networks refused', { problem: schemaProblem(networks.error) });
              return;
            }
            const payloads = AssignedPayloadsSchema.safeParse(m.payloads ?? []);
            if (!payloads.success) {
              this.o.logger.warn('assignment secrets refused', { problem: schemaProblem(payloads.error) });
              return;
            }
            const next: Assignments = { tasks: m.assignments, networks: networks.data, payloads: payloads.data };
            latest = next;
            for (const cb of listeners) cb(next);
          } else {
            this.o.logs?.handle(leader, m);
          }
        },
        abort.signal,
      )
      .then(
        () => {
          failedToOpen?.(new ShoalError('unavailable', 'the manager ended the session'));
          close('the manager ended the session');
        },
        (e: unknown) => {
          failedToOpen?.(e);
          close(`session stream failed: ${errorMessage(e)}`);
        },
      );
    // A leader that accepts the stream but never opens the session must not hold the agent (and a
    // role switch waiting for the agent to stop) forever.
    const timer = setTimeout(() => {
      failedToOpen?.(
        new ShoalError(
          'unavailable',
          `the leader at ${leader} did not open a session within ${SESSION_OPEN_TIMEOUT_MS / 1000} s`,
        ),
      );
      close('session not opened in time');
    }, SESSION_OPEN_TIMEOUT_MS);
    const s = await first.finally(() => clearTimeout(timer));
    return {
      sessionId: s.id,
      heartbeatPeriodMs: s.heartbeatPeriodMs,
      onAssignments: (cb) => {
        listeners.push(cb);
        if (latest) cb(latest);
      },
      onClose: (cb) => {
        closeListeners.push(cb);
        if (closed) cb('closed');
      },
      updateStatus: async (updates: readonly TaskStatusUpdate[]) => {
        await this.o.client.call(leader, '/dispatcher/status', { sessionId: s.id, updates });
      },
      heartbeat: () =>
        this.o.client.call<{ periodMs: number; role?: 'manager' | 'worker' }>(
          leader,
          '/dispatcher/heartbeat',
          { sessionId: s.id },
          10_000,
        ),
      close: () => close('closed by agent'),
    };
  }
}

/** The manager's side: serves sessions from the local dispatcher while this manager leads. */
export function serveDispatcher(
  port: ClusterPort,
  o: { dispatcher: () => DispatcherEndpoint | undefined; managers: () => ManagerAddr[]; logs: LogBroker },
): void {
  const sessions = new Map<string, { nodeId: string; s: AgentSession }>();
  const own = (body: { sessionId: string }, ctx: CallContext): AgentSession => {
    const entry = sessions.get(body.sessionId);
    if (!entry || entry.nodeId !== ctx.peer?.nodeId)
      throw new ShoalError('not_found', 'session not found or not yours; start a new session');
    return entry.s;
  };
  port.stream('/dispatcher/session', 'node', SessionCallSchema, async (b, ctx, send) => {
    const d = o.dispatcher();
    if (!d) throw new ShoalError('unavailable', 'this manager is not the leader');
    // The node's address is where its connection comes from, as swarmkit takes it, not what it says.
    const s = await d.session({
      nodeId: ctx.peer!.nodeId,
      description: b.description,
      addr: observedAddr(ctx.remoteAddr, b.addr),
    });
    sessions.set(s.sessionId, { nodeId: ctx.peer!.nodeId, s });
    const detachLogs = o.logs.attach(ctx.peer!.nodeId, (m) => send(m));
    try {
      send({ session: { id: s.sessionId, heartbeatPeriodMs: s.heartbeatPeriodMs, managers: o.managers() } });
      await new Promise<void>((resolve) => {
        s.onClose(() => resolve());
        ctx.signal.addEventListener('abort', () => {
          s.close();
          resolve();
        });
        s.onAssignments((a) => {
          if (!send({ assignments: a.tasks, networks: a.networks, payloads: a.payloads })) s.close();
        });
      });
    } finally {
      detachLogs();
      sessions.delete(s.sessionId);
    }
  });
  port.call(
    '/logs/publish',
    'node',
    PublishCallSchema,
    async (body, ctx) => {
      await o.logs.publish(ctx.peer!.nodeId, body);
      return {};
    },
    { maxBody: 16 * 1024 * 1024 },
  );
  port.call('/dispatcher/heartbeat', 'node', SessionRefSchema, (body, ctx) => own(body, ctx).heartbeat());
  port.call(
    '/dispatcher/status',
    'node',
    StatusCallSchema,
    async (body, ctx) => {
      // Each update stands on its own: a malformed one is dropped, the rest are written.
      const updates = body.updates.flatMap((u) => {
        const r = TaskStatusUpdateSchema.safeParse(u);
        return r.success ? [r.data as TaskStatusUpdate] : [];
      });
      await own(body, ctx).updateStatus(updates);
      return { dropped: body.updates.length - updates.length };
    },
    { maxBody: 8 * 1024 * 1024 },
  );
}

/** The address a node is reached at: the one its connection comes from (IPv4-mapped IPv6 unwrapped). */
function observedAddr(remote: string, said: string): string {
  const ip = remote.replace(/^::ffff:/, '');
  return ip || said;
}
