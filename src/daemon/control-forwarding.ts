/**
 * Where a control-API call runs: on the leader, after a ReadIndex for reads; from another manager it
 * is forwarded to the leader as it is (swarmkit's raft proxy); elsewhere Docker's errors say why not.
 * Reads are retried once on a new leader; a write is not (it may have been applied) and its caller
 * gets Docker's no-leader error instead.
 */
import { ShoalError } from '../common/errors.js';
import { ManagerUnreachableError } from '../cluster/client.js';
import type { LogLine, LogOptions } from '../manager/controlapi/api.js';
import { serviceLogs, taskLogs } from '../manager/controlapi/logs.js';
import { isRead, runMethod, type Args, type MethodName, type Result } from '../manager/controlapi/methods.js';
import type { RaftNode } from '../raft/node.js';
import { readBarrier, type ForwardedCall, type ForwardedLogs } from './cluster-routes.js';
import type { NodeHost } from './host.js';
import { SWARM_LOCKED } from './key-wrap.js';
import type { ManagerParts } from './manager-runtime.js';
import { NO_LEADER } from './raft-store.js';
import type { ClusterRuntime } from './runtime.js';

export const NOT_A_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
export const WORKER_NOT_MANAGER =
  "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";

/** How many election timeouts a read waits for a new leader before giving up. */
const LEADER_WAIT_ELECTIONS = 3;

export class ControlForwarding {
  constructor(
    private readonly host: NodeHost,
    private readonly tickMs: number,
  ) {}

  async invoke<K extends MethodName>(m: K, args: Args<K>): Promise<Result<K>> {
    const { rt, mgr } = this.managerRuntime();
    const { manager, raft, membership } = mgr;
    if (manager.isLeader) {
      if (isRead(m)) await readBarrier(raft);
      return runMethod(manager.controlContext, m, args);
    }
    for (let attempt = 0; ; attempt++) {
      const leaderId = raft.leader;
      const leader = leaderId ? membership.leaderAddr() : undefined;
      const retry = attempt === 0 && isRead(m);
      if (!leader) {
        if (retry && (await this.leaderSoon(raft))) continue;
        throw new ShoalError('unavailable', NO_LEADER);
      }
      // A leader change while the call is out means its answer may never come: stop waiting.
      const ac = new AbortController();
      const unobserve = raft.observe(() => raft.leader !== leaderId && ac.abort());
      try {
        const call: ForwardedCall = { method: m, args };
        return await rt.client.call<Result<K>>(leader, '/control/call', call, undefined, ac.signal);
      } catch (e) {
        // A leader this manager cannot reach is, for its clients, no leader (a partitioned minority).
        if (!ac.signal.aborted && !(e instanceof ManagerUnreachableError)) throw e;
        if (retry && (await this.leaderSoon(raft))) continue;
        throw new ShoalError('unavailable', NO_LEADER);
      } finally {
        unobserve();
      }
    }
  }

  /** Service or task logs, gathered by the leader. */
  logs(kind: 'service' | 'task', ref: string, opts: LogOptions): AsyncIterable<LogLine> {
    const { rt, mgr } = this.managerRuntime();
    if (mgr.manager.isLeader)
      return kind === 'service'
        ? serviceLogs(mgr.manager.controlContext, ref, opts)
        : taskLogs(mgr.manager.controlContext, ref, opts);
    const leader = mgr.membership.leaderAddr();
    if (!leader) throw new ShoalError('unavailable', NO_LEADER);
    const { signal, ...rest } = opts;
    return forwardLogs(rt, leader, { kind, ref, opts: rest }, signal);
  }

  private managerRuntime(): { rt: ClusterRuntime; mgr: ManagerParts } {
    if (this.host.locked) throw new ShoalError('unavailable', SWARM_LOCKED);
    const rt = this.host.runtime;
    if (!rt) throw new ShoalError('unavailable', NOT_A_MANAGER);
    if (!rt.mgr) throw new ShoalError('unavailable', WORKER_NOT_MANAGER);
    return { rt, mgr: rt.mgr };
  }

  /** Waits a few election timeouts for a leader this member can name. */
  private leaderSoon(raft: RaftNode): Promise<boolean> {
    return raft.until(() => raft.leader !== '', LEADER_WAIT_ELECTIONS * 10 * this.tickMs);
  }
}

/** Logs gathered by the leader, streamed to this manager. */
async function* forwardLogs(
  rt: ClusterRuntime,
  leader: string,
  call: ForwardedLogs,
  signal: AbortSignal | undefined,
): AsyncGenerator<LogLine> {
  const queue: LogLine[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  let failure: unknown;
  const ac = new AbortController();
  signal?.addEventListener('abort', () => ac.abort(), { once: true });
  let room: (() => void) | undefined;
  rt.client
    .stream(
      leader,
      '/control/logs',
      call,
      (m) => {
        queue.push(m as LogLine);
        wake?.();
        // Hold the stream while the client is behind, so neither end buffers without bound.
        return queue.length >= FORWARD_QUEUE_HIGH ? new Promise<void>((r) => (room = r)) : undefined;
      },
      ac.signal,
    )
    .catch((e: unknown) => (failure = e))
    .finally(() => {
      done = true;
      wake?.();
    });
  try {
    for (;;) {
      while (queue.length) {
        yield queue.shift()!;
        if (queue.length < FORWARD_QUEUE_HIGH / 2) room?.();
      }
      if (done) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    if (failure && !ac.signal.aborted) throw failure;
  } finally {
    room?.();
    ac.abort();
  }
}

/** Lines of a forwarded log stream held for a slow client. */
const FORWARD_QUEUE_HIGH = 1000;
