/**
 * This node's membership of a swarm: `swarm init` (a new cluster, this node its first manager),
 * `swarm init --force-new-cluster` (a manager restarts the swarm from its state after losing its
 * quorum), `swarm join` (an identity and certificate from a manager), `swarm leave`, and the Swarm
 * section of `docker info`. Any failure on the way in leaves the node out of any swarm, nothing on disk.
 */
import { ShoalError, errorMessage } from '../common/errors.js';
import { withDefaultPort, splitHostPort } from '../common/host-port.js';
import { newId, type NodeId } from '../common/ids.js';
import type { Logger } from '../common/logging.js';
import { cryptoRandom } from '../common/random.js';
import type { DockerExecutor } from '../agent/executor/docker-executor.js';
import { signWithExternalCA } from '../cluster/external-ca.js';
import { requestJoin } from '../cluster/join.js';
import { tlsInfoOfNode } from '../cluster/node-tls.js';
import { externalCAProblem } from '../manager/ca/external-ca.js';
import { createCsr, createRootCA, issueNodeCertificate, rootCAProblem } from '../manager/ca/root-ca.js';
import type { InitRequest, JoinRequest, SwarmInfo } from '../manager/controlapi/api.js';
import { normalizeClusterSpec, validateClusterSpec } from '../manager/controlapi/cluster.js';
import type { ClusterApi } from '../manager/controlapi/methods.js';
import { availabilityOf, firstManagerNode, ingressNetwork, initialCluster } from '../manager/controlapi/swarm-init.js';
import { parseAddressPool } from '../network/address-pool.js';
import { dataPathPort } from '../network/data-path-port.js';
import { resolveAdvertise } from './addresses.js';
import type { Autolock } from './autolock.js';
import type { NodeHost } from './host.js';
import { certValidityMs, saveNodeTls } from './node-certs.js';
import { saveNodeState, wipeSwarmState, type NodeState } from './node-state.js';
import type { ClusterRuntime } from './runtime.js';
import { leaderAddrOf } from './runtime.js';

export const ALREADY_IN_SWARM =
  'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
export const NOT_IN_SWARM = 'This node is not part of a swarm';

/** How long `swarm join` waits for a new manager to become a Raft voter (Docker's swarmConnectTimeout). */
const JOIN_TIMEOUT_MS = 20_000;
const JOIN_TIMEOUT =
  'Timeout was reached before node joined. The attempt to join the swarm will continue in the background. Use the "docker info" command to see the current swarm status of your node.';

export interface SwarmMembershipOptions {
  dataRoot: string;
  /** The daemon's `--listen-addr` and `--advertise-addr`, used when a request names none. */
  listenAddr: string;
  advertiseAddr: string | undefined;
  executor: DockerExecutor;
  /** The cluster-level API (forwarded to the leader), for the quorum check of a manager's leave. */
  cluster: ClusterApi;
  autolock: Autolock;
  logger: Logger;
}

export class SwarmMembership {
  constructor(
    private readonly host: NodeHost,
    private readonly o: SwarmMembershipOptions,
  ) {}

  /** `swarm init`; with ForceNewCluster on a manager, the forced new cluster. */
  init(req: InitRequest): Promise<NodeId> {
    if (req.ForceNewCluster && this.host.isManager()) return this.forceNewCluster();
    if (this.host.inSwarm()) return Promise.reject(new ShoalError('unavailable', ALREADY_IN_SWARM));
    return this.host.serialize(async () => {
      if (this.host.runtime) throw new ShoalError('unavailable', 'This node is already part of a swarm.');
      const extProblem = externalCAProblem(req.Spec?.CAConfig?.ExternalCAs);
      if (extProblem) throw new ShoalError('invalid_argument', extProblem);
      validateClusterSpec(normalizeClusterSpec(req.Spec));
      // --default-addr-pool / --default-addr-pool-mask-length are checked before anything is made.
      parseAddressPool(req.DefaultAddrPool, req.SubnetSize);
      dataPathPort(req.DataPathPort);
      const { listenAddr, advertise, clusterAddr } = this.addresses(req);
      const nodeId = newId<NodeId>(cryptoRandom);
      const clusterId = newId(cryptoRandom);
      const state: NodeState = {
        format: 1,
        nodeId,
        clusterId,
        role: 'manager',
        listenAddr,
        advertiseAddr: advertise,
        bootstrap: true,
        managers: [{ nodeId, addr: clusterAddr }],
      };
      // The cluster's root CA: join tokens pin its certificate; this node's certificate comes first.
      const { ca, own } = await firstRootCA(req, nodeId, clusterId);
      await saveNodeTls(this.o.dataRoot, { key: own.keyPem, cert: own.certPem, ca: ca.certPem });
      await this.enter(state, true, async (rt) => {
        const mgr = rt.mgr!;
        await mgr.raft.waitForLeadership(10_000);
        // The first member's own membership goes in the log, so members that join replay it.
        await mgr.raft.changeMembership({ kind: 'add', member: nodeId });
        const description = await this.o.executor.describe();
        await mgr.store.update((tx) => {
          const cluster = initialCluster({ clusterId, req, ca, now: tx.now, random: cryptoRandom });
          tx.create('cluster', cluster);
          tx.create('network', ingressNetwork(newId(cryptoRandom), cluster, tx.now));
          // Its TLS info is known now: the node object is complete when init returns, and stays as it is.
          const tlsInfo = tlsInfoOfNode(rt.tls);
          tx.create(
            'node',
            firstManagerNode({
              nodeId,
              role: 'manager',
              availability: availabilityOf(req.Availability),
              description,
              ip: advertise,
              clusterAddr,
              now: tx.now,
              tlsInfo,
            }),
          );
        });
      });
      return nodeId;
    });
  }

  /**
   * `swarm init --force-new-cluster`: this manager becomes the only member of its Raft group, with
   * the state it holds; the other managers become workers (they rejoin as such if they come back).
   */
  private forceNewCluster(): Promise<NodeId> {
    return this.host.serialize(async () => {
      const rt = this.host.runtime;
      if (!rt?.mgr) throw new ShoalError('unavailable', 'only a manager can force a new cluster from its state');
      await this.host.close(rt);
      const state: NodeState = { ...rt.state, bootstrap: true };
      const next = await this.host.open(state, true, true);
      const mgr = next.mgr!;
      mgr.membership.hold = true;
      try {
        await mgr.raft.waitForLeadership(30_000);
        const self = state.nodeId;
        const former = mgr.store
          .view((tx) => tx.all('node'))
          .filter((n) => n.ManagerStatus && n.ID !== self)
          .map((n) => n.ID);
        await mgr.store.update((tx) => {
          for (const id of former) {
            const cur = tx.get('node', id);
            if (!cur) continue;
            const { ManagerStatus: gone, ...rest } = cur;
            tx.update('node', {
              ...rest,
              ClusterAddr: cur.ClusterAddr ?? gone?.Addr,
              Spec: { ...cur.Spec, Role: 'worker' },
            });
          }
        });
        // Written to the log, so that a restart replays the same membership.
        for (const id of former) await mgr.raft.changeMembership({ kind: 'remove', member: id });
        await mgr.raft.changeMembership({ kind: 'add', member: self });
        await saveNodeState(this.o.dataRoot, state);
      } catch (e) {
        await this.host.close(next);
        throw e;
      } finally {
        mgr.membership.hold = false;
        mgr.membership.kick();
      }
      this.host.activate(next);
      this.o.logger.info("forced a new cluster from this manager's state", { node: state.nodeId });
      return state.nodeId as NodeId;
    });
  }

  /** `swarm join`: get an identity and certificate from a manager, then run as its token's role. */
  join(req: JoinRequest): Promise<void> {
    if (this.host.inSwarm()) return Promise.reject(new ShoalError('unavailable', ALREADY_IN_SWARM));
    return this.host.serialize(async () => {
      if (this.host.runtime) throw new ShoalError('unavailable', ALREADY_IN_SWARM);
      const remote = req.RemoteAddrs?.[0];
      if (!remote) throw new ShoalError('invalid_argument', 'at least 1 RemoteAddr is required to join');
      const { listenAddr, advertise, clusterAddr } = this.addresses(req);
      const joined = await requestJoin(withDefaultPort(remote, 2377), {
        token: req.JoinToken,
        addr: clusterAddr,
        availability: availabilityOf(req.Availability),
        description: await this.o.executor.describe(),
      });
      const state: NodeState = {
        format: 1,
        nodeId: joined.nodeId,
        clusterId: joined.clusterId,
        role: joined.role,
        listenAddr,
        advertiseAddr: advertise,
        managers: joined.managers,
      };
      await saveNodeTls(this.o.dataRoot, joined.tls);
      const rt = await this.enter(state, false, async () => undefined);
      this.o.logger.info('joined the swarm', { node: state.nodeId, role: state.role, via: remote });
      // As in Docker, a manager's join returns once it votes in the Raft group (the leader makes a
      // caught-up learner a voter), so `node ls` right after shows it Reachable.
      const raft = rt.mgr?.raft;
      if (raft && !(await raft.until(() => raft.members().voters.includes(state.nodeId), JOIN_TIMEOUT_MS))) {
        throw new ShoalError('unavailable', JOIN_TIMEOUT);
      }
    });
  }

  /** `swarm leave`: a manager without --force only if the rest keep a Raft quorum. */
  async leave(force: boolean): Promise<void> {
    if (!this.host.inSwarm()) throw new ShoalError('unavailable', NOT_IN_SWARM);
    if (!force && this.host.runtime?.mgr) await this.checkLeave();
    await this.host.serialize(async () => {
      if (this.host.locked) {
        this.host.locked = undefined;
        this.host.kek = undefined;
        await wipeSwarmState(this.o.dataRoot);
        return;
      }
      const rt = this.host.runtime;
      if (!rt) return;
      // As in Docker, a leaving manager stays a Raft member (shown unreachable) until it is demoted
      // and removed; its node is marked down at once.
      await announceLeave(rt).catch((e: unknown) =>
        this.o.logger.warn('telling the leader about leaving failed', { error: errorMessage(e) }),
      );
      rt.mgr?.manager.loseLeadership();
      // The executor finds containers by this node's identity, so clean up before forgetting it.
      await rt.agent.stop();
      await rt.agent.removeAllTasks();
      await this.host.close(rt);
      await this.o.autolock.settled();
      this.host.kek = undefined;
      await wipeSwarmState(this.o.dataRoot);
    });
  }

  /** The Swarm section of `docker info`. */
  info(): SwarmInfo {
    const l = this.host.locked;
    if (l) {
      return {
        NodeID: l.nodeId,
        NodeAddr: l.advertiseAddr,
        LocalNodeState: 'locked',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: (l.managers ?? []).map((m) => ({ NodeID: m.nodeId, Addr: m.addr })),
      };
    }
    const rt = this.host.runtime;
    if (!rt)
      return {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      };
    const info: SwarmInfo = {
      NodeID: rt.state.nodeId,
      NodeAddr: rt.state.advertiseAddr,
      LocalNodeState: 'active',
      ControlAvailable: Boolean(rt.mgr),
      Error: '',
      RemoteManagers: (rt.state.managers ?? []).map((m) => ({ NodeID: m.nodeId, Addr: m.addr })),
    };
    if (rt.mgr) {
      const nodes = rt.mgr.store.view((tx) => tx.all('node'));
      const managers = nodes.filter((n) => n.ManagerStatus);
      info.RemoteManagers = managers.map((m) => ({ NodeID: m.ID, Addr: m.ManagerStatus!.Addr }));
      info.Nodes = nodes.length;
      info.Managers = managers.length;
      const cluster = rt.mgr.store.view((tx) => tx.all('cluster')[0]);
      if (cluster) info.Cluster = cluster;
    }
    return info;
  }

  /** Refuses a manager's leave that would cost the swarm its quorum (seed 000's text). */
  private async checkLeave(): Promise<void> {
    const managers = (await this.o.cluster.listNodes()).filter((n) => n.ManagerStatus);
    const reachable = managers.filter((n) => n.ManagerStatus!.Reachability === 'reachable').length;
    const unreachable = managers.length - reachable;
    let msg = 'You are attempting to leave the swarm on a node that is participating as a manager. ';
    if (reachable <= 1 && unreachable === 0) {
      throw new ShoalError(
        'unavailable',
        `${msg}Removing the last manager erases all current state of the swarm. Use \`--force\` to ignore this message.`,
      );
    }
    if (reachable - 2 <= unreachable) {
      msg += `Removing this node leaves ${reachable - 1} managers out of ${reachable + unreachable}. Without a Raft quorum your swarm will be inaccessible. `;
      throw new ShoalError(
        'unavailable',
        `${msg}The only way to restore a swarm that has lost consensus is to reinitialize it with \`--force-new-cluster\`. Use \`--force\` to suppress this message.`,
      );
    }
  }

  /** The listen address, the advertised IP and the cluster address (`ip:port`) of a request. */
  private addresses(req: { ListenAddr?: string; AdvertiseAddr?: string }): {
    listenAddr: string;
    advertise: string;
    clusterAddr: string;
  } {
    const listenAddr = req.ListenAddr && req.ListenAddr !== '0.0.0.0:2377' ? req.ListenAddr : this.o.listenAddr;
    const advertise = resolveAdvertise(req.AdvertiseAddr || this.o.advertiseAddr, listenAddr);
    const port = splitHostPort(listenAddr, 2377).port;
    return { listenAddr, advertise, clusterAddr: `${advertise}:${port}` };
  }

  /**
   * Opens the runtime for a node that is entering a swarm and runs `setup` on it; only then is the
   * membership saved. Any failure leaves the node as it was: out of any swarm, nothing on disk.
   */
  private async enter(
    state: NodeState,
    bootstrap: boolean,
    setup: (rt: ClusterRuntime) => Promise<void>,
  ): Promise<ClusterRuntime> {
    let rt: ClusterRuntime | undefined;
    try {
      rt = await this.host.open(state, bootstrap);
      await setup(rt);
      await saveNodeState(this.o.dataRoot, state);
    } catch (e) {
      if (rt) await this.host.close(rt);
      await wipeSwarmState(this.o.dataRoot);
      throw e;
    }
    this.host.activate(rt);
    return rt;
  }
}

/** A leaving node's dispatcher session ends; the leader marks its node down at once. */
async function announceLeave(rt: ClusterRuntime): Promise<void> {
  if (rt.mgr?.manager.isLeader) {
    await rt.mgr.manager.dispatcher.nodeLeft(rt.state.nodeId);
    return;
  }
  await rt.client.call(await leaderAddrOf(rt), '/dispatcher/leave', {}, 5000);
}

/**
 * The root CA of a new swarm and the first manager's certificate: made here, or, when an external
 * CA is given with its root (`--external-ca protocol=cfssl,url=...,cacert=...`), that root without
 * its key, the certificate signed by the external CA.
 */
async function firstRootCA(
  req: InitRequest,
  nodeId: string,
  clusterId: string,
): Promise<{ ca: { certPem: string; keyPem?: string }; own: { keyPem: string; certPem: string } }> {
  const validityMs = certValidityMs(req.Spec?.CAConfig?.NodeCertExpiry);
  const ext = req.Spec?.CAConfig?.ExternalCAs?.find((c) => c.CACert);
  if (!ext?.CACert) {
    const ca = await createRootCA(Date.now());
    return {
      ca,
      own: await issueNodeCertificate(ca, { nodeId, role: 'manager', clusterId, now: Date.now(), validityMs }),
    };
  }
  const problem = rootCAProblem(ext.CACert, undefined, Date.now());
  if (problem) throw new ShoalError('invalid_argument', `external CA: ${problem}`);
  const { csrPem, keyPem } = await createCsr();
  const certPem = await signWithExternalCA(ext, { csr: csrPem, nodeId, role: 'manager', clusterId, root: ext.CACert });
  return { ca: { certPem: ext.CACert }, own: { keyPem, certPem } };
}
