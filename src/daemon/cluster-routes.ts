/**
 * What a manager serves on the cluster port besides the CA and Raft: where the leader is, control-API
 * calls and log streams forwarded by other managers (run here on the leader), a node's notice that it
 * leaves, the dispatcher sessions of every node's agent, and the attachable-overlay requests of
 * nodes that are not the leader.
 */
import type { z } from 'zod';
import { ShoalError } from '../common/errors.js';
import { EmptySchema, ForwardedCallSchema, ForwardedLogsSchema } from '../cluster/messages.js';
import type { LogBroker } from '../cluster/log-broker.js';
import type { ClusterPort } from '../cluster/port.js';
import { serveDispatcher, type ManagerAddr, type ManagersAnswer } from '../cluster/remote-dispatcher.js';
import type { LogOptions } from '../manager/controlapi/api.js';
import { serviceLogs, taskLogs } from '../manager/controlapi/logs.js';
import { isMethodName, isRead, runMethod, type Args } from '../manager/controlapi/methods.js';
import type { Manager } from '../manager/manager.js';
import type { RaftNode } from '../raft/node.js';
import { NotLeaderError } from '../raft/types.js';
import { serveAttachmentRoutes } from './attachment-routes.js';
import { NO_LEADER } from './raft-store.js';

export interface ClusterRoutesOptions {
  raft: RaftNode;
  manager: Manager;
  logs: LogBroker;
  leaderAddr: () => string | undefined;
  managers: () => ManagerAddr[];
}

/** A forwarded call: the method by name and its arguments, as the forwarding manager received them. */
export type ForwardedCall = z.infer<typeof ForwardedCallSchema>;

/** A forwarded log stream. */
export type ForwardedLogs = z.infer<typeof ForwardedLogsSchema>;

/** A forwarded call carries a client's request body (a service spec): the Engine API's limit and some room. */
const MAX_FORWARDED_BODY = 8 * 1024 * 1024;

export function serveClusterRoutes(port: ClusterPort, o: ClusterRoutesOptions): void {
  const leaderOnly = (): void => {
    if (!o.manager.isLeader) throw new ShoalError('unavailable', NO_LEADER);
  };
  port.call('/cluster/managers', 'node', EmptySchema, async (): Promise<ManagersAnswer> => ({
    leader: o.leaderAddr(),
    managers: o.managers(),
  }));
  port.call(
    '/control/call',
    'manager',
    ForwardedCallSchema,
    async (b) => {
      const method = b.method;
      if (!isMethodName(method)) throw new ShoalError('invalid_argument', `unknown control method ${method}`);
      leaderOnly();
      if (isRead(method)) await readBarrier(o.raft);
      return runMethod(o.manager.controlContext, method, b.args as Args<typeof method>);
    },
    { maxBody: MAX_FORWARDED_BODY },
  );
  port.stream('/control/logs', 'manager', ForwardedLogsSchema, async (b, ctx, send) => {
    leaderOnly();
    const opts: LogOptions = { ...b.opts, signal: ctx.signal };
    const lines =
      b.kind === 'service'
        ? serviceLogs(o.manager.controlContext, b.ref, opts)
        : taskLogs(o.manager.controlContext, b.ref, opts);
    for await (const l of lines) {
      if (!send(l)) break;
      // A slow reader at the other end: take no more lines until it has taken these.
      await ctx.drained();
    }
  });
  port.call('/dispatcher/leave', 'node', EmptySchema, async (_body, ctx) => {
    leaderOnly();
    await o.manager.dispatcher.nodeLeft(ctx.peer!.nodeId);
    return {};
  });
  serveAttachmentRoutes(port, o.manager, () => readBarrier(o.raft));
  serveDispatcher(port, {
    dispatcher: () => (o.manager.isLeader ? o.manager.dispatcher : undefined),
    managers: o.managers,
    logs: o.logs,
  });
}

/** A linearizable read on the leader: everything committed before it is applied here first. */
export async function readBarrier(raft: RaftNode): Promise<void> {
  try {
    await raft.readBarrier();
  } catch (e) {
    if (e instanceof NotLeaderError) throw new ShoalError('unavailable', NO_LEADER);
    throw e;
  }
}
