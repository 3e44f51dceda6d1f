/**
 * The composition root of one host: the Engine API server, and while the host is in a swarm its
 * cluster runtime. Every node runs an agent holding a dispatcher session with the leader. A manager
 * also holds a Raft member with the replicated store, serves the cluster port (join, dispatcher,
 * forwarded control-API calls, Raft), and runs the manager components while it leads.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { systemClock } from '../common/clock.js';
import { ShoalError, errorMessage } from '../common/errors.js';
import { newId, type NodeId } from '../common/ids.js';
import type { Logger } from '../common/logging.js';
import { cryptoRandom } from '../common/random.js';
import { Agent } from '../agent/agent.js';
import { DockerExecutor } from '../agent/executor/docker-executor.js';
import { ClusterClient, splitAddr } from '../cluster/client.js';
import { requestJoin } from '../cluster/join.js';
import { LogBroker, LogPublisher } from '../cluster/log-broker.js';
import { ClusterPort, RAFT_ALPN, secureOptions } from '../cluster/port.js';
import { RemoteDispatcher, type ManagerAddr, type ManagersAnswer } from '../cluster/remote-dispatcher.js';
import { newJoinToken } from '../manager/ca/join-token.js';
import { desiredTrust, signingCA } from '../manager/ca/rotation.js';
import { externalCAProblem } from '../manager/ca/external-ca.js';
import { createCsr, createRootCA, issueNodeCertificate, rootCAProblem } from '../manager/ca/root-ca.js';
import { signWithExternalCA } from '../cluster/external-ca.js';
import { newUnlockKey, parseUnlockKey } from '../manager/ca/unlock-key.js';
import type { InitRequest, JoinRequest, LogLine, LogOptions, SwarmInfo } from '../manager/controlapi/api.js';
import { normalizeClusterSpec } from '../manager/controlapi/cluster-control.js';
import { Manager } from '../manager/manager.js';
import { RaftNode } from '../raft/node.js';
import { TcpTransport } from '../raft/transport-tcp.js';
import { NotLeaderError } from '../raft/types.js';
import { Store } from '../store/store.js';
import type { ClusterObject, NodeObject } from '../store/types.js';
import { createApiServer, type ApiServer } from '../api/server.js';
import { resolveAdvertise, splitHostPort } from './addresses.js';
import { isRead, runLocal, type Args, type MethodName, type Result } from './control-methods.js';
import { LeaderServices, type CaSyncAnswer } from './leader-services.js';
import { signedBy, splitPem, tlsInfoOfNode } from '../cluster/node-tls.js';
import { DEFAULT_NODE_CERT_EXPIRY_MS, ensureNodeCertificate, loadNodeTls, saveNodeTls, type NodeTls } from './node-certs.js';
import { NodeControl, NOT_A_MANAGER } from './node-control.js';
import { NO_LEADER, RaftProposer, StoreStateMachine } from './raft-store.js';
import { loadNodeState, saveNodeState, wipeRaftState, wipeSwarmState, type NodeState } from './node-state.js';
import { INVALID_UNLOCK_KEY, isLocked, loadDek, rewrapKeys, sameKek, SWARM_LOCKED } from './key-wrap.js';

export interface DaemonOptions {
  dataRoot: string;
  /** `unix:///run/shoal/shoal.sock` */
  host: string;
  runtime: string;
  listenAddr: string;
  advertiseAddr?: string;
  hostname?: string;
  /** Raft tick interval; the election timeout is ElectionTick ticks (default 10 × 100 ms). */
  tickMs?: number;
  logger: Logger;
}

export const WORKER_NOT_MANAGER =
  "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";

/** How long `swarm join` waits for a new manager to become a Raft voter (Docker's swarmConnectTimeout). */
const JOIN_TIMEOUT_MS = 20_000;
const JOIN_TIMEOUT =
  'Timeout was reached before node joined. The attempt to join the swarm will continue in the background. Use the "docker info" command to see the current swarm status of your node.';
/** How often a node checks in with the leader's CA; and while a root rotation is under way. */
const CA_SYNC_MS = 5000;
const CA_SYNC_ROTATING_MS = 1000;

/** What a manager holds besides what every node holds. */
export interface ManagerParts {
  store: Store;
  raft: RaftNode;
  transport: TcpTransport;
  manager: Manager;
  port: ClusterPort;
  services: LeaderServices;
}

export interface ClusterRuntime {
  state: NodeState;
  tls: NodeTls;
  client: ClusterClient;
  remote: RemoteDispatcher;
  agent: Agent;
  mgr: ManagerParts | undefined;
  certTimer?: NodeJS.Timeout;
  certWork?: Promise<void>;
  /** The CA check-in with the leader (trust roots, root rotation), and when it runs next. */
  caWork?: Promise<void>;
  caTimer?: NodeJS.Timeout;
  unwatchKek?: () => void;
  /** A peer's word that this manager was removed is being checked with it. */
  checkingRemoval?: boolean;
}

export class ShoalDaemon {
  private api: ApiServer | undefined;
  private cluster: ClusterRuntime | undefined;
  readonly executor: DockerExecutor;
  private transition: Promise<unknown> = Promise.resolve();
  private switching = false;
  /** The unlock key's key-encryption key this manager's key material is wrapped with (autolock). */
  private kek: Buffer | undefined;
  /** A manager that restarted with autolock on, waiting for `swarm unlock`. */
  private locked: NodeState | undefined;
  private kekWork: Promise<void> = Promise.resolve();

  constructor(private readonly o: DaemonOptions) {
    this.executor = new DockerExecutor({
      runtimeUrl: o.runtime,
      hostname: o.hostname ?? osHostname(),
      clusterId: () => this.cluster?.state.clusterId ?? '',
      nodeId: () => this.cluster?.state.nodeId ?? '',
    });
  }

  get logger(): Logger {
    return this.o.logger;
  }

  async start(): Promise<void> {
    await mkdir(this.o.dataRoot, { recursive: true, mode: 0o700 });
    const state = await loadNodeState(this.o.dataRoot);
    if (state && state.role === 'manager' && (await isLocked(this.o.dataRoot))) {
      this.locked = state;
      this.o.logger.info('this manager is locked (autolock); waiting for `swarm unlock`', { node: state.nodeId });
    } else if (state) {
      const runtime = await this.openCluster(state, false);
      this.cluster = runtime;
      this.activate(runtime);
      // As dockerd does, give the manager a moment to find its leader before the API opens, so the
      // first command after a restart does not meet an election (a lone manager elects itself at once).
      await runtime.mgr?.raft.waitForLeader(5000);
    }
    this.api = createApiServer({ control: new NodeControl(this), runtimeUrl: this.o.runtime, logger: this.o.logger.child('api') });
    await this.api.listen(socketPath(this.o.host));
    this.o.logger.info('shoal daemon listening', { host: this.o.host, inSwarm: Boolean(state) });
  }

  async stop(): Promise<void> {
    await this.api?.close();
    const c = this.cluster;
    this.cluster = undefined;
    if (c) await this.closeRuntime(c);
  }

  inSwarm(): boolean {
    return Boolean(this.cluster || this.locked);
  }

  isManager(): boolean {
    return this.cluster?.state.role === 'manager' || Boolean(this.locked);
  }

  /** `swarm unlock`: the unlock key opens this manager's key material, and it starts. */
  unlock(key: string): Promise<void> {
    return this.serialize(async () => {
      const state = this.locked;
      if (!state) throw new ShoalError('conflict', 'swarm is not locked');
      const kek = parseUnlockKey(key);
      if (!kek) throw new ShoalError('invalid_argument', INVALID_UNLOCK_KEY);
      await loadDek(this.o.dataRoot, kek); // throws on a wrong key
      this.kek = kek;
      const runtime = await this.openCluster(state, false);
      this.locked = undefined;
      this.cluster = runtime;
      this.activate(runtime);
      this.o.logger.info('unlocked', { node: state.nodeId });
    });
  }

  // ---------- control API ----------

  /** A control-API call: run on the leader (reads after a ReadIndex), forwarded from other managers. */
  async invoke<K extends MethodName>(m: K, args: Args<K>): Promise<Result<K>> {
    if (this.locked) throw new ShoalError('unavailable', SWARM_LOCKED);
    const c = this.cluster;
    if (!c) throw new ShoalError('unavailable', NOT_A_MANAGER);
    if (!c.mgr) throw new ShoalError('unavailable', WORKER_NOT_MANAGER);
    const { manager, raft, services } = c.mgr;
    if (manager.isLeader) {
      if (isRead(m)) await this.readBarrier(raft);
      return runLocal(m, manager.control, services, args);
    }
    // Reads are retried once on a new leader; a write is not (it may have been applied), and its
    // caller gets Docker's no-leader error instead.
    for (let attempt = 0; ; attempt++) {
      const leaderId = raft.leader;
      const leader = leaderId ? services.leaderAddr() : undefined;
      if (!leader) {
        if (attempt === 0 && isRead(m) && (await this.leaderSoon(raft))) continue;
        throw new ShoalError('unavailable', NO_LEADER);
      }
      // A leader change while the call is out means its answer may never come: stop waiting.
      const ac = new AbortController();
      const watch = setInterval(() => raft.leader !== leaderId && ac.abort(), 50);
      try {
        return await c.client.call<Result<K>>(leader, '/control/call', { method: m, args }, undefined, ac.signal);
      } catch (e) {
        // A leader this manager cannot reach is, for its clients, no leader (a partitioned minority).
        const lost = ac.signal.aborted || (e instanceof ShoalError && e.code === 'unavailable' && /unreachable/.test(e.message));
        if (!lost) throw e;
        if (attempt === 0 && isRead(m) && (await this.leaderSoon(raft))) continue;
        throw new ShoalError('unavailable', NO_LEADER);
      } finally {
        clearInterval(watch);
      }
    }
  }

  /** Waits a few election timeouts for a leader this member can name. */
  private async leaderSoon(raft: RaftNode): Promise<boolean> {
    const deadline = Date.now() + 10 * (this.o.tickMs ?? 100) * 3;
    while (Date.now() < deadline) {
      if (raft.leader) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  /** Service or task logs, gathered by the leader. */
  logs(kind: 'service' | 'task', ref: string, opts: LogOptions): AsyncIterable<LogLine> {
    if (this.locked) throw new ShoalError('unavailable', SWARM_LOCKED);
    const c = this.cluster;
    if (!c) throw new ShoalError('unavailable', NOT_A_MANAGER);
    if (!c.mgr) throw new ShoalError('unavailable', WORKER_NOT_MANAGER);
    const { manager, services } = c.mgr;
    if (manager.isLeader) return kind === 'service' ? manager.control.serviceLogs(ref, opts) : manager.control.taskLogs(ref, opts);
    const leader = services.leaderAddr();
    if (!leader) throw new ShoalError('unavailable', NO_LEADER);
    return services.forwardLogs(leader, kind, ref, opts);
  }

  private async readBarrier(raft: RaftNode): Promise<void> {
    try {
      await raft.readBarrier();
    } catch (e) {
      if (e instanceof NotLeaderError) throw new ShoalError('unavailable', NO_LEADER);
      throw e;
    }
  }

  newJoinToken(_role: 'worker' | 'manager'): string {
    const c = this.cluster?.mgr?.store.view((tx) => tx.all('cluster')[0]);
    return newJoinToken(c?.RootCA.CACert ?? '', cryptoRandom);
  }

  // ---------- membership of this node ----------

  /**
   * The root CA of a new swarm and the first manager's certificate: made here, or, when an external
   * CA is given with its root (`--external-ca protocol=cfssl,url=...,cacert=...`), that root without
   * its key, the certificate signed by the external CA.
   */
  private async firstRootCA(req: InitRequest, nodeId: string, clusterId: string): Promise<{ ca: { certPem: string; keyPem?: string }; own: { keyPem: string; certPem: string } }> {
    const validityMs = certValidityMs(req.Spec?.CAConfig?.NodeCertExpiry);
    const ext = req.Spec?.CAConfig?.ExternalCAs?.find((c) => c.CACert);
    if (!ext?.CACert) {
      const ca = await createRootCA(Date.now());
      return { ca, own: await issueNodeCertificate(ca, { nodeId, role: 'manager', clusterId, now: Date.now(), validityMs }) };
    }
    const problem = rootCAProblem(ext.CACert, undefined, Date.now());
    if (problem) throw new ShoalError('invalid_argument', `external CA: ${problem}`);
    const { csrPem, keyPem } = await createCsr();
    const certPem = await signWithExternalCA(ext, { csr: csrPem, nodeId, role: 'manager', clusterId, root: ext.CACert });
    return { ca: { certPem: ext.CACert }, own: { keyPem, certPem } };
  }

  /** `swarm init`: a new cluster with this node as its only manager and leader. */
  initSwarm(req: InitRequest): Promise<NodeId> {
    return this.serialize(async () => {
      if (this.cluster) throw new ShoalError('unavailable', 'This node is already part of a swarm.');
      const extProblem = externalCAProblem(req.Spec?.CAConfig?.ExternalCAs);
      if (extProblem) throw new ShoalError('invalid_argument', extProblem);
      const listenAddr = req.ListenAddr && req.ListenAddr !== '0.0.0.0:2377' ? req.ListenAddr : this.o.listenAddr;
      const advertise = resolveAdvertise(req.AdvertiseAddr || this.o.advertiseAddr, listenAddr);
      const port = splitHostPort(listenAddr, 2377).port;
      const nodeId = newId<NodeId>(cryptoRandom);
      const clusterId = newId(cryptoRandom);
      const state: NodeState = { format: 1, nodeId, clusterId, role: 'manager', listenAddr, advertiseAddr: advertise, bootstrap: true, managers: [{ nodeId, addr: `${advertise}:${port}` }] };
      // The cluster's root CA: join tokens pin its certificate; this node's certificate comes first.
      const { ca, own } = await this.firstRootCA(req, nodeId, clusterId);
      await saveNodeTls(this.o.dataRoot, { key: own.keyPem, cert: own.certPem, ca: ca.certPem });
      await this.enterSwarm(state, true, async (runtime) => {
        const mgr = runtime.mgr!;
        await mgr.raft.waitForLeadership(10_000);
        // The first member's own membership goes in the log, so members that join replay it.
        await mgr.raft.changeMembership({ kind: 'add', member: nodeId });
        const description = await this.executor.describe();
        const autolock = Boolean(req.AutoLockManagers || req.Spec?.EncryptionConfig?.AutoLockManagers);
        await mgr.store.update((tx) => {
          const cluster: ClusterObject = {
            ID: clusterId,
            Version: { Index: 0 },
            CreatedAt: tx.now,
            UpdatedAt: tx.now,
            Spec: normalizeClusterSpec({
              ...req.Spec,
              EncryptionConfig: { AutoLockManagers: autolock },
            }),
            RootCA: { CACert: ca.certPem, ...(ca.keyPem ? { CAKey: ca.keyPem } : {}) },
            ...(autolock ? { UnlockKey: newUnlockKey(cryptoRandom) } : {}),
            JoinTokens: { Worker: newJoinToken(ca.certPem, cryptoRandom), Manager: newJoinToken(ca.certPem, cryptoRandom) },
            DefaultAddrPool: req.DefaultAddrPool?.length ? req.DefaultAddrPool : ['10.0.0.0/8'],
            SubnetSize: req.SubnetSize || 24,
            DataPathPort: req.DataPathPort || 4789,
          };
          tx.create('cluster', cluster);
          const node: NodeObject = {
            ID: nodeId,
            Version: { Index: 0 },
            CreatedAt: tx.now,
            UpdatedAt: tx.now,
            Spec: { Labels: {}, Role: 'manager', Availability: availability(req.Availability) },
            Description: description,
            Status: { State: 'ready', Addr: advertise },
            ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: `${advertise}:${port}` },
          };
          tx.create('node', node);
        });
      });
      return nodeId;
    });
  }

  /**
   * `swarm init --force-new-cluster`: this manager becomes the only member of its Raft group, with
   * the state it holds; the other managers become workers (they rejoin as such if they come back).
   */
  forceNewCluster(): Promise<NodeId> {
    return this.serialize(async () => {
      const rt = this.cluster;
      if (!rt?.mgr) throw new ShoalError('unavailable', 'only a manager can force a new cluster from its state');
      this.cluster = undefined;
      await this.closeRuntime(rt);
      const state: NodeState = { ...rt.state, bootstrap: true };
      const next = await this.openCluster(state, true, true);
      const mgr = next.mgr!;
      mgr.services.holdMembership = true;
      try {
        await mgr.raft.waitForLeadership(30_000);
        const self = state.nodeId;
        const former = mgr.store.view((tx) => tx.all('node')).filter((n) => n.ManagerStatus && n.ID !== self).map((n) => n.ID);
        await mgr.store.update((tx) => {
          for (const id of former) {
            const cur = tx.get('node', id);
            if (!cur) continue;
            const { ManagerStatus: gone, ...rest } = cur;
            tx.update('node', { ...rest, ClusterAddr: cur.ClusterAddr ?? gone?.Addr, Spec: { ...cur.Spec, Role: 'worker' } });
          }
        });
        // Written to the log, so that a restart replays the same membership.
        for (const id of former) await mgr.raft.changeMembership({ kind: 'remove', member: id });
        await mgr.raft.changeMembership({ kind: 'add', member: self });
        await saveNodeState(this.o.dataRoot, state);
      } catch (e) {
        await this.closeRuntime(next);
        throw e;
      } finally {
        mgr.services.holdMembership = false;
      }
      this.cluster = next;
      this.activate(next);
      this.o.logger.info('forced a new cluster from this manager\'s state', { node: state.nodeId });
      return state.nodeId as NodeId;
    });
  }

  /** `swarm join`: get an identity and certificate from a manager, then run as its token's role. */
  joinSwarm(req: JoinRequest): Promise<void> {
    return this.serialize(async () => {
      if (this.cluster) throw new ShoalError('unavailable', 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.');
      const remote = req.RemoteAddrs?.[0];
      if (!remote) throw new ShoalError('invalid_argument', 'at least 1 RemoteAddr is required to join');
      const listenAddr = req.ListenAddr && req.ListenAddr !== '0.0.0.0:2377' ? req.ListenAddr : this.o.listenAddr;
      const advertise = resolveAdvertise(req.AdvertiseAddr || this.o.advertiseAddr, listenAddr);
      const port = splitHostPort(listenAddr, 2377).port;
      const joined = await requestJoin(withPort(remote), {
        token: req.JoinToken,
        addr: `${advertise}:${port}`,
        availability: availability(req.Availability),
        description: await this.executor.describe(),
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
      await this.enterSwarm(state, false, async () => undefined);
      this.o.logger.info('joined the swarm', { node: state.nodeId, role: state.role, via: remote });
      // As in Docker, a manager's join returns once it votes in the Raft group (the leader makes a
      // caught-up learner a voter), so `node ls` right after shows it Reachable.
      if (state.role === 'manager' && !(await this.becameVoter(JOIN_TIMEOUT_MS))) throw new ShoalError('unavailable', JOIN_TIMEOUT);
    });
  }

  private async becameVoter(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = this.cluster;
      if (!c?.mgr) return false;
      if (c.mgr.raft.members().voters.includes(c.state.nodeId)) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Opens the runtime for a node that is entering a swarm and runs `setup` on it; only then is the
   * membership saved. Any failure leaves the node as it was: out of any swarm, nothing on disk.
   */
  private async enterSwarm(state: NodeState, bootstrap: boolean, setup: (rt: ClusterRuntime) => Promise<void>): Promise<void> {
    let runtime: ClusterRuntime | undefined;
    try {
      runtime = await this.openCluster(state, bootstrap);
      await setup(runtime);
      await saveNodeState(this.o.dataRoot, state);
    } catch (e) {
      if (runtime) await this.closeRuntime(runtime);
      await wipeSwarmState(this.o.dataRoot);
      throw e;
    }
    this.cluster = runtime;
    this.activate(runtime);
  }

  /** A manager may leave without --force only if the rest keep a Raft quorum. */
  async checkLeave(): Promise<void> {
    const mgr = this.cluster?.mgr;
    if (!mgr) return;
    await mgr.services.checkLeave();
  }

  /** `swarm leave`: stop everything, remove this node's task containers, forget the swarm. */
  leaveSwarm(): Promise<void> {
    return this.serialize(async () => {
      if (this.locked) {
        this.locked = undefined;
        this.kek = undefined;
        await wipeSwarmState(this.o.dataRoot);
        return;
      }
      const c = this.cluster;
      if (!c) return;
      // As in Docker, a leaving manager stays a Raft member (shown unreachable) until it is demoted
      // and removed; its node is marked down at once.
      await this.announceLeave(c).catch((e: unknown) => this.o.logger.warn('telling the leader about leaving failed', { error: errorMessage(e) }));
      c.mgr?.manager.loseLeadership();
      // The executor finds containers by this node's identity, so clean up before forgetting it.
      await c.agent.stop();
      await c.agent.removeAllTasks();
      this.cluster = undefined;
      await this.closeRuntime(c);
      await this.kekWork;
      this.kek = undefined;
      await wipeSwarmState(this.o.dataRoot);
    });
  }

  private async announceLeave(c: ClusterRuntime): Promise<void> {
    if (c.mgr?.manager.isLeader) {
      await c.mgr.manager.dispatcher.nodeLeft(c.state.nodeId);
      return;
    }
    const leader = c.mgr ? c.mgr.services.leaderAddr() : await c.remote.findLeader();
    if (leader) await c.client.call(leader, '/dispatcher/leave', {}, 5000);
  }

  swarmInfo(): SwarmInfo {
    const l = this.locked;
    if (l) {
      return { NodeID: l.nodeId, NodeAddr: l.advertiseAddr, LocalNodeState: 'locked', ControlAvailable: false, Error: '', RemoteManagers: (l.managers ?? []).map((m) => ({ NodeID: m.nodeId, Addr: m.addr })) };
    }
    const c = this.cluster;
    if (!c) return { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
    const info: SwarmInfo = {
      NodeID: c.state.nodeId,
      NodeAddr: c.state.advertiseAddr,
      LocalNodeState: 'active',
      ControlAvailable: Boolean(c.mgr),
      Error: '',
      RemoteManagers: (c.state.managers ?? []).map((m) => ({ NodeID: m.nodeId, Addr: m.addr })),
    };
    if (c.mgr) {
      const nodes = c.mgr.store.view((tx) => tx.all('node'));
      const managers = nodes.filter((n) => n.ManagerStatus);
      info.RemoteManagers = managers.map((m) => ({ NodeID: m.ID, Addr: m.ManagerStatus!.Addr }));
      info.Nodes = nodes.length;
      info.Managers = managers.length;
      const cluster = c.mgr.store.view((tx) => tx.all('cluster')[0]);
      if (cluster) info.Cluster = cluster;
    }
    return info;
  }

  // ---------- runtime ----------

  private async openCluster(state: NodeState, bootstrap: boolean, forceNewCluster = false): Promise<ClusterRuntime> {
    const tlsNow = await loadNodeTls(this.o.dataRoot, this.kek);
    if (!tlsNow) throw new Error(`this node is in a swarm but ${path.join(this.o.dataRoot, 'certificates')} holds no certificate`);
    const runtime: Partial<ClusterRuntime> & { state: NodeState; tls: NodeTls } = { state, tls: tlsNow };
    const client = new ClusterClient(() => runtime.tls);
    const remote = new RemoteDispatcher({
      client,
      managers: () => runtime.state.managers ?? [],
      onManagers: (m) => this.rememberManagers(runtime.state, m),
      logs: new LogPublisher(this.executor, client),
      logger: this.o.logger.child('session'),
    });
    runtime.client = client;
    runtime.remote = remote;
    if (state.role === 'manager') runtime.mgr = await this.openManager(runtime as ClusterRuntime, bootstrap || Boolean(state.bootstrap), forceNewCluster);
    const mgr = runtime.mgr;
    runtime.agent = new Agent({
      nodeId: state.nodeId,
      addr: state.advertiseAddr,
      executor: this.executor,
      // The leader's own agent uses the dispatcher in-process; every other agent goes over the network.
      dispatcher: () => (mgr?.manager.isLeader ? mgr.manager.dispatcher : remote),
      onRole: (role) => this.roleWanted(runtime as ClusterRuntime, role),
      logger: this.o.logger.child('agent'),
    });
    return runtime as ClusterRuntime;
  }

  private async openManager(rt: ClusterRuntime, firstMember: boolean, forceNewCluster: boolean): Promise<ManagerParts> {
    const state = rt.state;
    const clock = systemClock;
    const proposer = new RaftProposer();
    const store: Store = new Store(proposer, clock);
    const raftSpec = (): NonNullable<ClusterObject['Spec']['Raft']> => store.view((tx) => tx.all('cluster')[0])?.Spec.Raft ?? {};
    const addrOf = (id: string): string | undefined => {
      const n = store.view((tx) => tx.get('node', id));
      // A former manager (demoted, or left behind by a forced new cluster) keeps its cluster address,
      // so that it can still be told it was removed.
      return n?.ManagerStatus?.Addr ?? n?.ClusterAddr ?? state.managers?.find((m) => m.nodeId === id)?.addr;
    };
    const transport = new TcpTransport({
      id: state.nodeId,
      peers: (id) => {
        const a = addrOf(id);
        return a ? splitAddr(a) : undefined;
      },
      // Raft runs over mutual TLS on the cluster port; the peer must hold the member's certificate.
      dial: (a) => ({
        socket: tls.connect({
          host: a.host,
          port: a.port,
          ...secureOptions(rt.tls),
          ALPNProtocols: [RAFT_ALPN],
          checkServerIdentity: (_h, cert) => {
            const sub = cert.subject as Record<string, string | string[]> | undefined;
            return sub && String(sub.OU) === 'swarm-manager' ? undefined : new Error('the raft peer is not a manager');
          },
        }),
        readyEvent: 'secureConnect',
      }),
      logger: this.o.logger.child('raft-net'),
    });
    const manager = new Manager({
      store,
      clock,
      random: cryptoRandom,
      logger: this.o.logger.child('manager'),
      // This node's task logs come from its engine; other nodes' through their sessions.
      logSource: (nodeId) => (nodeId === state.nodeId ? this.executor : logs.reader(nodeId)),
    });
    const logs = new LogBroker();
    const raft = new RaftNode({
      id: state.nodeId,
      // The first manager starts as the group; a joined one learns the membership from the leader.
      voters: firstMember ? [state.nodeId] : [],
      dir: path.join(this.o.dataRoot, 'raft'),
      tickMs: this.o.tickMs ?? 100,
      electionTick: () => raftSpec().ElectionTick ?? 10,
      heartbeatTick: () => raftSpec().HeartbeatTick ?? 1,
      snapshotInterval: () => raftSpec().SnapshotInterval ?? 10000,
      keepEntries: () => raftSpec().LogEntriesForSlowFollowers ?? 500,
      keepOldSnapshots: () => raftSpec().KeepOldSnapshots ?? 0,
      sm: new StoreStateMachine(() => store),
      // The data-encryption key lives with the node's key material (autolock will wrap it).
      cipher: await loadDek(this.o.dataRoot, this.kek),
      random: cryptoRandom,
      logger: this.o.logger.child('raft'),
      transport,
      // Called only once raft.start() runs, after `services` exists.
      onLeadershipChange: (leading) => services.leadershipChanged(leading),
      forceNewCluster,
      onRemoved: (by) => {
        const addr = addrOf(by);
        if (addr) this.removedFromGroup(rt, addr);
      },
    });
    proposer.node = raft;
    const { host, port } = splitHostPort(state.listenAddr, 2377);
    const clusterPort = new ClusterPort({
      host,
      port,
      tls: rt.tls,
      logger: this.o.logger.child('cluster-port'),
      refuse: (peer) => {
        if (peer.clusterId !== state.clusterId) return 'the certificate belongs to another swarm';
        const known = store.view((tx) => tx.all('cluster').length > 0 && !tx.get('node', peer.nodeId));
        return known ? `node ${peer.nodeId} is not a member of this swarm (it was removed)` : undefined;
      },
    });
    clusterPort.onRaft((socket, peer) => transport.accept(socket, peer.nodeId));
    const services = new LeaderServices({
      daemon: this,
      runtime: rt,
      store,
      raft,
      manager,
      port: clusterPort,
      transport,
      addrOf,
      logs,
      onLeaderChanged: () => rt.agent?.resetSession(),
      logger: this.o.logger.child('membership'),
    });
    await clusterPort.listen();
    try {
      await raft.start();
    } catch (e) {
      await clusterPort.close();
      throw e;
    }
    return { store, raft, transport, manager, port: clusterPort, services };
  }

  private activate(c: ClusterRuntime): void {
    c.agent.start();
    if (c.mgr) {
      const store = c.mgr.store;
      // Autolock follows the cluster object: every manager rewraps its keys when the key changes.
      c.unwatchKek = store.watch((events) => {
        if (events.some((e) => e.kind !== 'commit' && e.table === 'cluster')) this.followUnlockKey(c);
      });
      this.followUnlockKey(c);
    }
    // The node certificate is checked now and hourly, and renewed past half its validity.
    c.certWork = this.renewCertificate(c);
    c.certTimer = setInterval(() => (c.certWork = this.renewCertificate(c)), 3600_000);
    c.certTimer.unref();
    this.scheduleCaSync(c, 0);
  }

  private followUnlockKey(c: ClusterRuntime): void {
    const cluster = c.mgr?.store.view((tx) => tx.all('cluster')[0]);
    if (!cluster) return;
    const want = cluster.UnlockKey ? parseUnlockKey(cluster.UnlockKey) : undefined;
    this.kekWork = this.kekWork.then(async () => {
      if (this.cluster !== c || sameKek(want, this.kek)) return;
      try {
        await rewrapKeys(this.o.dataRoot, this.kek, want);
        this.kek = want;
        this.o.logger.info(want ? 'autolock: key material wrapped with the unlock key' : 'autolock off: key material stored unwrapped');
      } catch (e) {
        this.o.logger.warn('rewrapping key material failed', { error: errorMessage(e) });
      }
    });
  }

  /** Keeps the manager list a worker falls back on when its manager goes away. */
  private rememberManagers(state: NodeState, managers: ManagerAddr[]): void {
    const key = (l: readonly ManagerAddr[] | undefined): string => JSON.stringify([...(l ?? [])].sort((a, b) => a.nodeId.localeCompare(b.nodeId)));
    if (key(state.managers) === key(managers)) return;
    state.managers = managers;
    if (this.cluster?.state === state) void saveNodeState(this.o.dataRoot, state).catch((e: unknown) => this.o.logger.warn('saving the manager list failed', { error: errorMessage(e) }));
  }

  /** The cluster wants this node in another role (promote/demote): switch once, in the background. */
  private roleWanted(rt: ClusterRuntime, role: 'manager' | 'worker'): void {
    if (role === rt.state.role || this.cluster !== rt || this.switching) return;
    // A leader being demoted first hands leadership over (the membership loop does); until then it stays.
    if (rt.mgr?.manager.isLeader) return;
    this.switching = true;
    this.serialize(() => this.switchRole(rt, role))
      .catch((e: unknown) => this.o.logger.warn('switching role failed; will retry', { role, error: errorMessage(e) }))
      .finally(() => (this.switching = false));
  }

  /**
   * A manager says this one was removed from its Raft group (a forced new cluster, or a demotion
   * that happened while this node was away). Believed only if that manager leads and no longer
   * counts this node among the managers; then this node carries on as the worker it now is.
   */
  private removedFromGroup(rt: ClusterRuntime, by: string): void {
    if (this.cluster !== rt || this.switching || rt.checkingRemoval) return;
    rt.checkingRemoval = true;
    void (async () => {
      try {
        const a = await rt.client.call<ManagersAnswer>(by, '/cluster/managers', {}, 5000);
        if (a.leader !== by || a.managers.some((m) => m.nodeId === rt.state.nodeId)) return;
        if (this.cluster !== rt || this.switching) return;
        this.o.logger.warn('this manager was removed from the raft group while it was away; carrying on as a worker', { leader: by });
        this.switching = true;
        await this.serialize(() => this.switchRole(rt, 'worker', by)).finally(() => (this.switching = false));
      } catch (e) {
        this.o.logger.warn('checking a removal from the raft group failed', { by, error: errorMessage(e) });
      } finally {
        rt.checkingRemoval = false;
      }
    })();
  }

  private async switchRole(rt: ClusterRuntime, role: 'manager' | 'worker', leader?: string): Promise<void> {
    if (this.cluster !== rt || rt.state.role === role) return;
    const fresh = await this.certificateFromLeader(rt, leader);
    if (certRole(fresh.cert) !== role) throw new Error(`the leader issued a ${certRole(fresh.cert)} certificate, not a ${role} one yet`);
    this.o.logger.info(role === 'manager' ? 'promoted: becoming a manager' : 'demoted: becoming a worker', { node: rt.state.nodeId });
    this.cluster = undefined;
    await this.closeRuntime(rt);
    await saveNodeTls(this.o.dataRoot, fresh, role === 'manager' ? this.kek : undefined);
    // A demoted manager's Raft data is of no further use (a later promotion starts it afresh).
    if (role === 'worker') {
      await wipeRaftState(this.o.dataRoot);
      this.kek = undefined; // autolock is for managers only
    }
    const state: NodeState = { ...rt.state, role, bootstrap: false };
    await saveNodeState(this.o.dataRoot, state);
    const next = await this.openCluster(state, false);
    this.cluster = next;
    this.activate(next);
  }

  /** A new key and a certificate for this node's current desired role, signed by the leader. */
  private async certificateFromLeader(rt: ClusterRuntime, knownLeader?: string): Promise<NodeTls> {
    // A demoted manager is no longer told who leads by Raft: it asks the managers it knows.
    const leader = knownLeader ?? rt.mgr?.services.leaderAddr() ?? (await rt.remote.findLeader());
    const { csrPem, keyPem } = await createCsr();
    const r = await rt.client.call<{ cert: string; ca: string }>(leader, '/ca/renew', { csr: csrPem }, 30_000);
    return { key: keyPem, cert: r.cert, ca: r.ca };
  }

  private async renewCertificate(c: ClusterRuntime): Promise<void> {
    const cluster = c.mgr?.store.view((tx) => tx.all('cluster')[0]);
    const ca = cluster && signingCA(cluster);
    if (!cluster || !ca?.keyPem) {
      // A worker (or a manager whose swarm signs through an external CA) has no CA key: past half
      // its certificate's life it asks the leader for a new one.
      try {
        if (!pastHalfLife(c.tls.cert, Date.now())) return;
        await this.useTls(c, await this.certificateFromLeader(c));
        c.client.closeAll();
        this.o.logger.info("renewed this node's certificate", { node: c.state.nodeId });
      } catch (e) {
        this.o.logger.warn('node certificate renewal failed', { error: errorMessage(e) });
      }
      return;
    }
    try {
      const id = { nodeId: c.state.nodeId, role: c.state.role, clusterId: c.state.clusterId };
      const root = { certPem: ca.certPem, keyPem: ca.keyPem };
      if (await ensureNodeCertificate(this.o.dataRoot, root, id, Date.now(), certValidityMs(cluster.Spec.CAConfig.NodeCertExpiry), this.kek, desiredTrust(cluster))) {
        this.o.logger.info("issued this node's certificate", { node: id.nodeId });
        const t = await loadNodeTls(this.o.dataRoot, this.kek);
        if (t) {
          c.tls = t;
          c.mgr?.port.setTls(t);
        }
      }
    } catch (e) {
      this.o.logger.warn('node certificate renewal failed', { error: String(e) });
    }
  }

  private scheduleCaSync(c: ClusterRuntime, delayMs: number): void {
    if (this.cluster !== c) return;
    c.caTimer = setTimeout(() => {
      c.caWork = this.caSync(c).then(
        (next) => this.scheduleCaSync(c, next),
        (e: unknown) => {
          this.o.logger.debug('CA check-in with the leader failed', { error: errorMessage(e) });
          this.scheduleCaSync(c, CA_SYNC_MS);
        },
      );
    }, delayMs);
  }

  /**
   * Checks in with the leader's CA: reports this node's TLSInfo, takes the roots to trust, and renews
   * its certificate when the leader signs with another root (a root rotation). Returns when to
   * check in next: soon while a rotation is under way.
   */
  private async caSync(c: ClusterRuntime): Promise<number> {
    const leader = c.mgr?.services.leaderAddr() ?? (await c.remote.findLeader());
    const a = await c.client.call<CaSyncAnswer>(leader, '/ca/sync', { tls: tlsInfoOfNode(c.tls) }, 10_000);
    if (this.cluster !== c) return CA_SYNC_MS;
    let changed = false;
    if (a.trust !== c.tls.ca) {
      await this.useTls(c, { ...c.tls, ca: a.trust });
      this.o.logger.info('trusting the root CA certificates the leader gave', { roots: splitPem(a.trust).length });
      changed = true;
    }
    if (!signedBy(c.tls.cert, a.signer)) {
      await this.useTls(c, await this.certificateFromLeader(c, leader));
      this.o.logger.info("renewed this node's certificate from the swarm's new root CA", { node: c.state.nodeId });
      changed = true;
    }
    return changed ? 100 : a.rotating ? CA_SYNC_ROTATING_MS : CA_SYNC_MS;
  }

  private async useTls(c: ClusterRuntime, t: NodeTls): Promise<void> {
    await saveNodeTls(this.o.dataRoot, t, this.kek);
    c.tls = t;
    c.mgr?.port.setTls(t);
  }

  private async closeRuntime(c: ClusterRuntime): Promise<void> {
    clearInterval(c.certTimer);
    clearTimeout(c.caTimer);
    await c.caWork;
    c.unwatchKek?.();
    await c.certWork; // never let a renewal write certificates after the swarm state is wiped
    c.mgr?.services.stop();
    c.mgr?.manager.loseLeadership();
    await c.agent.stop();
    c.client.closeAll();
    if (c.mgr) {
      await c.mgr.raft.stop();
      await c.mgr.transport.close();
      await c.mgr.port.close();
    }
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.transition.then(fn, fn);
    this.transition = p.catch(() => undefined);
    return p;
  }
}

function certRole(pem: string): 'manager' | 'worker' | undefined {
  const subject = new X509Certificate(pem).subject;
  return /OU=swarm-manager/.test(subject) ? 'manager' : /OU=swarm-worker/.test(subject) ? 'worker' : undefined;
}

function pastHalfLife(pem: string, now: number): boolean {
  const c = new X509Certificate(pem);
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  return now >= from + (to - from) / 2;
}

function certValidityMs(expiryNs: number | undefined): number {
  return expiryNs ? Math.floor(expiryNs / 1e6) : DEFAULT_NODE_CERT_EXPIRY_MS;
}

function withPort(addr: string): string {
  return /:\d+$/.test(addr) && !/^[^[]*:.*:/.test(addr) ? addr : `${addr}:2377`;
}

function availability(a: string | undefined): 'active' | 'pause' | 'drain' {
  return a === 'pause' || a === 'drain' ? a : 'active';
}

function socketPath(host: string): string {
  if (!host.startsWith('unix://')) throw new Error(`--host must be a unix socket (unix:///path), got ${host}`);
  return host.slice('unix://'.length);
}
