/**
 * A manager's cluster-port services and Raft membership duties. Any manager answers where the
 * leader is and forwards what it cannot do itself; the leader admits joining nodes (token check,
 * node object, signed certificate, a new manager added as a learner and made a voter once caught
 * up), runs forwarded control-API calls, and knows which managers are reachable.
 */
import { ShoalError, errorMessage } from '../common/errors.js';
import { newId, type NodeId } from '../common/ids.js';
import type { Logger } from '../common/logging.js';
import { cryptoRandom } from '../common/random.js';
import { INVALID_JOIN_TOKEN, roleOfToken, type JoinAnswer, type JoinCall } from '../cluster/join.js';
import type { ClusterPort } from '../cluster/port.js';
import { serveDispatcher, type ManagerAddr, type ManagersAnswer } from '../cluster/remote-dispatcher.js';
import { signCsr } from '../manager/ca/root-ca.js';
import type { LogLine, LogOptions } from '../manager/controlapi/api.js';
import type { ClusterControl } from '../manager/controlapi/cluster-control.js';
import type { Manager } from '../manager/manager.js';
import type { RaftNode } from '../raft/node.js';
import type { TcpTransport } from '../raft/transport-tcp.js';
import type { Store } from '../store/store.js';
import type { NodeObject, NodeSpec } from '../store/types.js';
import { isMethodName, isRead, runLocal, type LeaderView } from './control-methods.js';
import type { ClusterRuntime, ShoalDaemon } from './daemon.js';
import { DEFAULT_NODE_CERT_EXPIRY_MS } from './node-certs.js';
import { NO_LEADER } from './raft-store.js';

/** How often the leader looks for learners that caught up. */
const PROMOTE_CHECK_MS = 500;
/** A learner this close to the leader's log is caught up enough to vote. */
const CAUGHT_UP_ENTRIES = 20;

export interface LeaderServicesOptions {
  daemon: ShoalDaemon;
  runtime: ClusterRuntime;
  store: Store;
  raft: RaftNode;
  manager: Manager;
  port: ClusterPort;
  transport: TcpTransport;
  addrOf: (nodeId: string) => string | undefined;
  logger: Logger;
}

export class LeaderServices implements LeaderView {
  private promoteTimer: NodeJS.Timeout | undefined;
  private changing = false;
  private stopped = false;
  private leadEpoch = 0;

  constructor(private readonly o: LeaderServicesOptions) {
    const { port } = o;
    port.call('/ca/root', 'anyone', async () => ({ ca: this.cluster().RootCA.CACert }));
    port.call('/ca/join', 'anyone', (body) => this.join(body as JoinCall));
    port.call('/cluster/managers', 'node', async (): Promise<ManagersAnswer> => ({ leader: this.leaderAddr(), managers: this.managers() }));
    port.call('/control/call', 'manager', (body) => this.runForwarded(body));
    port.stream('/control/logs', 'manager', async (body, ctx, send) => {
      const b = body as { kind: 'service' | 'task'; ref: string; opts: Omit<LogOptions, 'signal'> };
      if (!o.manager.isLeader) throw new ShoalError('unavailable', NO_LEADER);
      const opts: LogOptions = { ...b.opts, signal: ctx.signal };
      const lines = b.kind === 'service' ? o.manager.control.serviceLogs(b.ref, opts) : o.manager.control.taskLogs(b.ref, opts);
      for await (const l of lines) if (!send(l)) break;
    });
    port.call('/raft/remove', 'manager', async (body, ctx) => {
      const id = (body as { nodeId?: string }).nodeId;
      if (!id || id !== ctx.peer?.nodeId) throw new ShoalError('permission_denied', 'a manager can only take itself out of the raft group');
      await this.removeMember(id);
      return {};
    });
    serveDispatcher(port, {
      dispatcher: () => (o.manager.isLeader ? o.manager.dispatcher : undefined),
      managers: () => this.managers(),
    });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.promoteTimer);
  }

  /** Raft told us our leadership changed: start or stop the leader-only components. */
  leadershipChanged(leading: boolean): void {
    const epoch = ++this.leadEpoch;
    if (!leading) {
      clearInterval(this.promoteTimer);
      this.promoteTimer = undefined;
      this.o.manager.loseLeadership();
      this.o.logger.info('lost leadership');
      return;
    }
    // Start only once everything committed before this term is applied (the store is current).
    this.o.raft.waitForLeadership(30_000).then(
      () => {
        if (epoch !== this.leadEpoch || this.stopped || !this.o.raft.isLeader) return;
        this.o.logger.info('became the leader');
        this.o.manager.becomeLeader();
        this.promoteTimer = setInterval(() => void this.promoteCaughtUp(), PROMOTE_CHECK_MS);
        this.promoteTimer.unref();
      },
      (e: unknown) => this.o.logger.warn('leadership did not settle', { error: errorMessage(e) }),
    );
  }

  /** The leader's cluster address, as this manager knows it. */
  leaderAddr(): string | undefined {
    const id = this.o.raft.leader;
    return id ? this.o.addrOf(id) : undefined;
  }

  managers(): ManagerAddr[] {
    return this.o.store.view((tx) => tx.all('node')).flatMap((n) => (n.ManagerStatus ? [{ nodeId: n.ID, addr: n.ManagerStatus.Addr }] : []));
  }

  // ---------- LeaderView ----------

  newJoinToken(role: 'worker' | 'manager'): string {
    return this.o.daemon.newJoinToken(role);
  }

  /** Adds what only the leader knows: who leads, and which managers it hears from. */
  decorate(node: NodeObject): NodeObject {
    if (!node.ManagerStatus) return node;
    const leader = this.o.raft.leader;
    const peer = this.o.raft.peers().find((p) => p.id === node.ID);
    const reachability = node.ID === leader ? 'reachable' : !peer ? 'unknown' : peer.reachable && !peer.learner ? 'reachable' : peer.learner ? 'unknown' : 'unreachable';
    return { ...node, ManagerStatus: { ...node.ManagerStatus, Leader: node.ID === leader, Reachability: reachability } };
  }

  async updateNode(c: ClusterControl, id: string, version: number, spec: NodeSpec): Promise<void> {
    const cur = c.getNode(id);
    if (cur.Spec.Role !== spec.Role && spec.Role) {
      throw new ShoalError('unimplemented', `changing a node's role (promote/demote) is not implemented yet in shoal`);
    }
    await c.updateNode(id, version, spec);
  }

  removeNode(c: ClusterControl, ref: string, force: boolean): Promise<void> {
    return c.removeNode(ref, force);
  }

  // ---------- leaving ----------

  /** Refuses a manager's leave that would cost the swarm its quorum (seed 000's text). */
  async checkLeave(): Promise<void> {
    const nodes = await this.o.daemon.invoke('listNodes', []);
    const managers = nodes.filter((n) => n.ManagerStatus);
    const reachable = managers.filter((n) => n.ManagerStatus!.Reachability === 'reachable').length;
    const unreachable = managers.length - reachable;
    let msg = 'You are attempting to leave the swarm on a node that is participating as a manager. ';
    if (reachable <= 1 && unreachable === 0) {
      throw new ShoalError('unavailable', `${msg}Removing the last manager erases all current state of the swarm. Use \`--force\` to ignore this message.`);
    }
    if (reachable - 2 <= unreachable) {
      msg += `Removing this node leaves ${reachable - 1} managers out of ${reachable + unreachable}. Without a Raft quorum your swarm will be inaccessible. `;
      throw new ShoalError('unavailable', `${msg}The only way to restore a swarm that has lost consensus is to reinitialize it with \`--force-new-cluster\`. Use \`--force\` to suppress this message.`);
    }
  }

  /** This manager takes itself out of the Raft group (handing leadership over first if it leads). */
  async leaveRaft(): Promise<void> {
    const self = this.o.runtime.state.nodeId;
    const { voters } = this.o.raft.members();
    if (voters.length <= 1) return;
    if (this.o.raft.isLeader) {
      const next = this.o.raft
        .peers()
        .filter((p) => p.id !== self && p.reachable && !p.learner)
        .sort((a, b) => b.match - a.match)[0];
      if (next) {
        this.o.raft.transferLeadership(next.id);
        const deadline = Date.now() + 5000;
        while (this.o.raft.isLeader && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      }
      if (this.o.raft.isLeader) {
        await this.removeMember(self);
        return;
      }
    }
    const deadline = Date.now() + 5000;
    while (!this.leaderAddr() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const leader = this.leaderAddr();
    if (!leader) throw new ShoalError('unavailable', NO_LEADER);
    await this.o.runtime.client.call(leader, '/raft/remove', { nodeId: self });
  }

  /** Removes a manager from the Raft group and marks its node a worker that is down. */
  private async removeMember(id: string): Promise<void> {
    if (!this.o.raft.isLeader) throw new ShoalError('unavailable', NO_LEADER);
    const m = this.o.raft.members();
    if (m.voters.includes(id) || m.learners.includes(id)) await this.o.raft.changeMembership({ kind: 'remove', member: id });
    await this.o.store.update((tx) => {
      const cur = tx.get('node', id);
      if (!cur) return;
      const { ManagerStatus: _gone, ...rest } = cur;
      tx.update('node', { ...rest, Spec: { ...cur.Spec, Role: 'worker' }, Status: { ...cur.Status, State: 'down', Message: 'node left the swarm' } });
    });
    this.o.transport.forget(id);
  }

  // ---------- joining ----------

  private cluster(): NonNullable<ReturnType<ClusterControl['cluster']>> {
    const c = this.o.store.view((tx) => tx.all('cluster')[0]);
    if (!c) throw new ShoalError('unavailable', 'this manager has no cluster state yet');
    return c;
  }

  private async join(call: JoinCall): Promise<JoinAnswer> {
    if (!this.o.manager.isLeader) {
      const leader = this.leaderAddr();
      if (!leader) throw new ShoalError('unavailable', NO_LEADER);
      return this.o.runtime.client.call<JoinAnswer>(leader, '/ca/join', call, 30_000);
    }
    const cluster = this.cluster();
    const role = roleOfToken(call.token ?? '', cluster.JoinTokens);
    if (!role) throw new ShoalError('invalid_argument', INVALID_JOIN_TOKEN);
    if (!cluster.RootCA.CAKey) throw new ShoalError('failed_precondition', 'this swarm has no CA key to sign certificates with');
    const nodeId = newId<NodeId>(cryptoRandom);
    const expiryNs = cluster.Spec.CAConfig.NodeCertExpiry;
    let cert: string;
    try {
      cert = await signCsr({ certPem: cluster.RootCA.CACert, keyPem: cluster.RootCA.CAKey }, call.csr, {
        nodeId,
        role,
        clusterId: cluster.ID,
        now: Date.now(),
        validityMs: expiryNs ? Math.floor(expiryNs / 1e6) : DEFAULT_NODE_CERT_EXPIRY_MS,
      });
    } catch (e) {
      throw new ShoalError('invalid_argument', errorMessage(e));
    }
    const ip = call.addr.replace(/:\d+$/, '');
    await this.o.store.update((tx) => {
      const node: NodeObject = {
        ID: nodeId,
        Version: { Index: 0 },
        CreatedAt: tx.now,
        UpdatedAt: tx.now,
        Spec: { Labels: {}, Role: role, Availability: call.availability ?? 'active' },
        Description: call.description,
        Status: { State: 'unknown', Addr: ip },
      };
      if (role === 'manager') node.ManagerStatus = { Leader: false, Reachability: 'unknown', Addr: call.addr };
      tx.create('node', node);
    });
    if (role === 'manager') await this.addLearner(nodeId);
    this.o.logger.info('node joined', { node: nodeId, role, addr: call.addr });
    return { nodeId, clusterId: cluster.ID, role, cert, ca: cluster.RootCA.CACert, managers: this.managers() };
  }

  /** One membership change at a time: a second joining manager waits for the first. */
  private async addLearner(id: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.o.raft.changeMembership({ kind: 'addLearner', member: id });
        return;
      } catch (e) {
        if (!/already in progress/.test(errorMessage(e)) || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Makes learners that have caught up voters, one at a time. */
  private async promoteCaughtUp(): Promise<void> {
    if (this.changing || !this.o.raft.isLeader) return;
    const { learners } = this.o.raft.members();
    if (learners.length === 0) return;
    const commit = this.o.raft.progressIndex.commit;
    const ready = this.o.raft.peers().find((p) => p.learner && p.reachable && p.match > 0 && p.match + CAUGHT_UP_ENTRIES >= commit);
    if (!ready) return;
    this.changing = true;
    try {
      await this.o.raft.changeMembership({ kind: 'add', member: ready.id });
      this.o.logger.info('manager caught up; it is now a raft voter', { node: ready.id });
    } catch (e) {
      this.o.logger.debug('promoting a learner failed; will retry', { node: ready.id, error: errorMessage(e) });
    } finally {
      this.changing = false;
    }
  }

  // ---------- forwarding ----------

  private async runForwarded(body: unknown): Promise<unknown> {
    const b = body as { method?: unknown; args?: unknown };
    if (!isMethodName(b.method) || !Array.isArray(b.args)) throw new ShoalError('invalid_argument', 'bad forwarded call');
    if (!this.o.manager.isLeader) throw new ShoalError('unavailable', NO_LEADER);
    if (isRead(b.method)) {
      try {
        await this.o.raft.readBarrier();
      } catch {
        throw new ShoalError('unavailable', NO_LEADER);
      }
    }
    return runLocal(b.method, this.o.manager.control, this, b.args as never);
  }

  /** Logs gathered by the leader, streamed to this manager. */
  forwardLogs(leader: string, kind: 'service' | 'task', ref: string, opts: LogOptions): AsyncIterable<LogLine> {
    const client = this.o.runtime.client;
    const { signal, ...rest } = opts;
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<LogLine> => {
        const queue: LogLine[] = [];
        let done = false;
        let failure: unknown;
        let wake: (() => void) | undefined;
        const ac = new AbortController();
        signal?.addEventListener('abort', () => ac.abort(), { once: true });
        client
          .stream(leader, '/control/logs', { kind, ref, opts: rest }, (m) => {
            queue.push(m as LogLine);
            wake?.();
          }, ac.signal)
          .then(
            () => (done = true),
            (e: unknown) => {
              failure = e;
              done = true;
            },
          )
          .finally(() => wake?.());
        return {
          next: async (): Promise<IteratorResult<LogLine>> => {
            while (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r));
            const v = queue.shift();
            if (v) return { value: v, done: false };
            if (failure && !ac.signal.aborted) throw failure;
            return { value: undefined, done: true };
          },
          return: async (): Promise<IteratorResult<LogLine>> => {
            ac.abort();
            return { value: undefined, done: true };
          },
        };
      },
    };
  }
}
