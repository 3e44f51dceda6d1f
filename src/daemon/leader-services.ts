/**
 * A manager's cluster-port services and Raft membership duties. Any manager answers where the
 * leader is and forwards what it cannot do itself; the leader admits joining nodes (token check,
 * node object, signed certificate, a new manager added as a learner and made a voter once caught
 * up), runs forwarded control-API calls, and knows which managers are reachable.
 */
import { sameValue } from '../common/canonical.js';
import { ShoalError, errorMessage } from '../common/errors.js';
import { newId, type NodeId } from '../common/ids.js';
import type { Logger } from '../common/logging.js';
import { cryptoRandom } from '../common/random.js';
import { INVALID_JOIN_TOKEN, roleOfToken, type JoinAnswer, type JoinCall } from '../cluster/join.js';
import type { LogBroker } from '../cluster/log-broker.js';
import { signWithExternalCA } from '../cluster/external-ca.js';
import type { ClusterPort } from '../cluster/port.js';
import { serveDispatcher, type ManagerAddr, type ManagersAnswer } from '../cluster/remote-dispatcher.js';
import { externalCAFor } from '../manager/ca/external-ca.js';
import { desiredTrust, signingCA } from '../manager/ca/rotation.js';
import { signCsr } from '../manager/ca/root-ca.js';
import type { LogLine, LogOptions } from '../manager/controlapi/api.js';
import type { ClusterControl } from '../manager/controlapi/cluster-control.js';
import type { Manager } from '../manager/manager.js';
import type { RaftNode } from '../raft/node.js';
import type { TcpTransport } from '../raft/transport-tcp.js';
import type { Store } from '../store/store.js';
import type { ClusterObject, NodeObject, NodeSpec, TlsInfo } from '../store/types.js';
import { isMethodName, isRead, runLocal, type LeaderView } from './control-methods.js';
import type { ClusterRuntime, ShoalDaemon } from './daemon.js';
import { DEFAULT_NODE_CERT_EXPIRY_MS } from './node-certs.js';
import { NO_LEADER } from './raft-store.js';

/** The leader's answer to a node's CA check-in. */
export interface CaSyncAnswer {
  /** The roots to trust (PEM, concatenated). */
  trust: string;
  /** The root whose certificates nodes must hold (renew when yours is from another). */
  signer: string;
  rotating: boolean;
}

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
  /** Where the leader gathers other nodes' task logs. */
  logs: LogBroker;
  /** The Raft leader changed (to another member or to none). */
  onLeaderChanged: () => void;
  logger: Logger;
}

const LEADER_WATCH_MS = 100;

export class LeaderServices implements LeaderView {
  private promoteTimer: NodeJS.Timeout | undefined;
  private changing = false;
  /** Set while the daemon rewrites the membership itself (force-new-cluster). */
  holdMembership = false;
  private stopped = false;
  private leadEpoch = 0;
  private readonly leaderWatch: NodeJS.Timeout;

  constructor(private readonly o: LeaderServicesOptions) {
    const { port } = o;
    let lastLeader = '';
    this.leaderWatch = setInterval(() => {
      const now = o.raft.leader;
      if (now === lastLeader) return;
      lastLeader = now;
      o.onLeaderChanged();
    }, LEADER_WATCH_MS);
    this.leaderWatch.unref();
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
    port.call('/ca/renew-for', 'manager', (body) => {
      const b = body as { csr: string; nodeId: string };
      return this.renew({ csr: b.csr }, b.nodeId);
    });
    port.call('/ca/renew', 'node', (body, ctx) => this.renew(body as { csr: string }, ctx.peer!.nodeId));
    port.call('/ca/sync', 'node', (body, ctx) => this.caSync(ctx.peer!.nodeId, (body as { tls: TlsInfo }).tls));
    port.call('/dispatcher/leave', 'node', async (_body, ctx) => {
      if (!o.manager.isLeader) throw new ShoalError('unavailable', NO_LEADER);
      await o.manager.dispatcher.nodeLeft(ctx.peer!.nodeId);
      return {};
    });
    serveDispatcher(port, {
      dispatcher: () => (o.manager.isLeader ? o.manager.dispatcher : undefined),
      managers: () => this.managers(),
      logs: o.logs,
    });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.leaderWatch);
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
        this.promoteTimer = setInterval(() => void this.reconcileMembership(), PROMOTE_CHECK_MS);
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
    const reachability = node.ID === leader ? 'reachable' : !peer || peer.learner ? 'unknown' : peer.reachable ? 'reachable' : 'unreachable';
    return { ...node, ManagerStatus: { ...node.ManagerStatus, Leader: node.ID === leader, Reachability: reachability } };
  }

  /**
   * Promote and demote change the node's desired role; the membership loop then changes the Raft
   * group to match, and the node itself switches role when its next heartbeat tells it.
   */
  async updateNode(c: ClusterControl, id: string, version: number, spec: NodeSpec): Promise<void> {
    const cur = c.getNode(id);
    if (cur.Spec.Role === 'manager' && spec.Role === 'worker') this.checkDemote(cur);
    await c.updateNode(id, version, spec);
    if (cur.Spec.Role !== 'manager' && spec.Role === 'manager') {
      await this.o.store.update((tx) => {
        const n = tx.get('node', id);
        // Nodes that joined before their address was kept are assumed on the default port.
        if (n && !n.ManagerStatus) tx.update('node', { ...n, ManagerStatus: { Leader: false, Reachability: 'unknown', Addr: n.ClusterAddr ?? `${n.Status.Addr}:2377` } });
      });
    }
  }

  /** Demoting must leave a quorum of reachable voters behind. */
  private checkDemote(node: NodeObject): void {
    const { voters } = this.o.raft.members();
    if (!voters.includes(node.ID)) return;
    const reachable = this.o.raft.peers().filter((p) => !p.learner && p.reachable && p.id !== node.ID).length;
    const remaining = voters.length - 1;
    if (remaining > 0 && reachable < Math.floor(remaining / 2) + 1) {
      throw new ShoalError('failed_precondition', `can't remove member from the raft: this would result in a loss of quorum`);
    }
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

  /** Removes a member from the Raft group; its node keeps its status but no longer has a manager status. */
  private async removeMember(id: string): Promise<void> {
    if (!this.o.raft.isLeader) throw new ShoalError('unavailable', NO_LEADER);
    const m = this.o.raft.members();
    if (m.voters.includes(id) || m.learners.includes(id)) await this.o.raft.changeMembership({ kind: 'remove', member: id });
    await this.o.store.update((tx) => {
      const cur = tx.get('node', id);
      if (!cur) return;
      const { ManagerStatus: gone, ...rest } = cur;
      tx.update('node', { ...rest, ClusterAddr: cur.ClusterAddr ?? gone?.Addr });
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
    const nodeId = newId<NodeId>(cryptoRandom);
    const cert = await this.sign(cluster, call.csr, nodeId, role);
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
        ClusterAddr: call.addr,
      };
      if (role === 'manager') node.ManagerStatus = { Leader: false, Reachability: 'unknown', Addr: call.addr };
      tx.create('node', node);
    });
    // Added at once, so the new manager starts catching up before its join returns.
    if (role === 'manager') await this.addLearner(nodeId);
    this.o.logger.info('node joined', { node: nodeId, role, addr: call.addr });
    return { nodeId, clusterId: cluster.ID, role, cert, ca: desiredTrust(cluster), managers: this.managers() };
  }

  /** A node's new certificate: for its current desired role (promote/demote), or before expiry. */
  private async renew(body: { csr: string }, nodeId: string): Promise<{ cert: string; ca: string }> {
    if (!this.o.manager.isLeader) {
      const leader = this.leaderAddr();
      if (!leader) throw new ShoalError('unavailable', NO_LEADER);
      // Forwarded as this manager; the leader must sign for the original caller.
      return this.o.runtime.client.call(leader, '/ca/renew-for', { csr: body.csr, nodeId }, 30_000);
    }
    const node = this.o.store.view((tx) => tx.get('node', nodeId));
    if (!node) throw new ShoalError('permission_denied', `node ${nodeId} is not a member of this swarm`);
    const cluster = this.cluster();
    return { cert: await this.sign(cluster, body.csr, nodeId, node.Spec.Role), ca: desiredTrust(cluster) };
  }

  /**
   * Signs a node's certificate request with the root that signs now (the new one late in a root
   * rotation): here when the swarm holds its key, else through the swarm's external CA.
   */
  private async sign(cluster: ClusterObject, csr: string, nodeId: string, role: 'manager' | 'worker'): Promise<string> {
    const ca = signingCA(cluster);
    const expiryNs = cluster.Spec.CAConfig.NodeCertExpiry;
    if (!ca.keyPem) {
      const ext = externalCAFor(cluster.Spec.CAConfig.ExternalCAs, ca.certPem);
      if (!ext) throw new ShoalError('failed_precondition', 'this swarm has no CA key to sign certificates with, and no external CA for its root');
      const t = this.o.runtime.tls;
      return signWithExternalCA(ext, { csr, nodeId, role, clusterId: cluster.ID, root: ca.certPem, client: { key: t.key, cert: t.cert, trust: t.ca } });
    }
    try {
      return await signCsr({ certPem: ca.certPem, keyPem: ca.keyPem }, csr, { nodeId, role, clusterId: cluster.ID, now: Date.now(), validityMs: expiryNs ? Math.floor(expiryNs / 1e6) : DEFAULT_NODE_CERT_EXPIRY_MS });
    } catch (e) {
      throw new ShoalError('invalid_argument', errorMessage(e));
    }
  }

  /**
   * A node's periodic CA check-in: it reports what it trusts and who issued its certificate (kept
   * as the node's TLSInfo, which drives a root rotation), and learns what to trust and who signs.
   */
  private async caSync(nodeId: string, tls: TlsInfo): Promise<CaSyncAnswer> {
    if (!this.o.manager.isLeader) throw new ShoalError('unavailable', NO_LEADER);
    const node = this.o.store.view((tx) => tx.get('node', nodeId));
    if (!node) throw new ShoalError('permission_denied', `node ${nodeId} is not a member of this swarm`);
    this.o.manager.rotation.checkedIn(nodeId);
    if (!sameValue(node.TLSInfo, tls)) {
      await this.o.store.update((tx) => {
        const cur = tx.get('node', nodeId);
        if (cur) tx.update('node', { ...cur, TLSInfo: tls });
      });
    }
    const cluster = this.cluster();
    return { trust: desiredTrust(cluster), signer: signingCA(cluster).certPem, rotating: cluster.RootCA.RootRotation !== undefined };
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

  /**
   * Brings the Raft group in line with the nodes' desired roles, one change at a time: managers that
   * are not members join as learners, learners that caught up become voters, members whose node was
   * demoted or removed leave (a leader demoting itself hands leadership over first).
   */
  private async reconcileMembership(): Promise<void> {
    if (this.changing || this.holdMembership || !this.o.raft.isLeader) return;
    this.changing = true;
    try {
      const self = this.o.runtime.state.nodeId;
      const { voters, learners } = this.o.raft.members();
      const nodes = new Map(this.o.store.view((tx) => tx.all('node')).map((n): [string, NodeObject] => [n.ID, n]));
      const wantsOut = (id: string): boolean => nodes.get(id)?.Spec.Role !== 'manager';
      const leaving = [...learners, ...voters].find(wantsOut);
      if (leaving === self) {
        const next = this.o.raft
          .peers()
          .filter((p) => p.id !== self && p.reachable && !p.learner)
          .sort((a, b) => b.match - a.match)[0];
        if (next) this.o.raft.transferLeadership(next.id);
        return;
      }
      if (leaving) {
        await this.removeMember(leaving);
        this.o.logger.info('node is no longer a raft member', { node: leaving });
        return;
      }
      const joining = [...nodes.values()].find((n) => n.Spec.Role === 'manager' && n.ManagerStatus && !voters.includes(n.ID) && !learners.includes(n.ID));
      if (joining) {
        await this.o.raft.changeMembership({ kind: 'addLearner', member: joining.ID });
        return;
      }
      const commit = this.o.raft.progressIndex.commit;
      const ready = this.o.raft.peers().find((p) => p.learner && p.reachable && p.match > 0 && p.match + CAUGHT_UP_ENTRIES >= commit);
      if (ready) {
        await this.o.raft.changeMembership({ kind: 'add', member: ready.id });
        this.o.logger.info('manager caught up; it is now a raft voter', { node: ready.id });
      }
    } catch (e) {
      this.o.logger.debug('a membership change failed; will retry', { error: errorMessage(e) });
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
  async *forwardLogs(leader: string, kind: 'service' | 'task', ref: string, opts: LogOptions): AsyncGenerator<LogLine> {
    const { signal, ...rest } = opts;
    const queue: LogLine[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: unknown;
    const ac = new AbortController();
    signal?.addEventListener('abort', () => ac.abort(), { once: true });
    const onLine = (m: unknown): void => {
      queue.push(m as LogLine);
      wake?.();
    };
    this.o.runtime.client
      .stream(leader, '/control/logs', { kind, ref, opts: rest }, onLine, ac.signal)
      .catch((e: unknown) => (failure = e))
      .finally(() => {
        done = true;
        wake?.();
      });
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (done) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      if (failure && !ac.signal.aborted) throw failure;
    } finally {
      ac.abort();
    }
  }
}
