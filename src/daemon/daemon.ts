/**
 * The composition root of one host: the Engine API server, and while the host is in a swarm, the
 * store and its log, the manager components and the agent. Everything that needs wiring is wired here.
 */
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { systemClock } from '../common/clock.js';
import { ShoalError } from '../common/errors.js';
import { newId, type NodeId } from '../common/ids.js';
import type { Logger } from '../common/logging.js';
import { cryptoRandom } from '../common/random.js';
import { Agent } from '../agent/agent.js';
import { DockerExecutor } from '../agent/executor/docker-executor.js';
import { newJoinToken } from '../manager/ca/join-token.js';
import { createRootCA } from '../manager/ca/root-ca.js';
import type { InitRequest, SwarmInfo } from '../manager/controlapi/api.js';
import { normalizeClusterSpec, type ClusterControl } from '../manager/controlapi/cluster-control.js';
import { Manager } from '../manager/manager.js';
import { loadOrCreateDek } from '../raft/cipher.js';
import { RaftNode } from '../raft/node.js';
import { Store } from '../store/store.js';
import type { ClusterObject, NodeObject } from '../store/types.js';
import { createApiServer, type ApiServer } from '../api/server.js';
import { resolveAdvertise, splitHostPort } from './addresses.js';
import { DEFAULT_NODE_CERT_EXPIRY_MS, ensureNodeCertificate } from './node-certs.js';
import { NodeControl } from './node-control.js';
import { NO_LEADER, RaftProposer, StoreStateMachine } from './raft-store.js';
import { NotLeaderError } from '../raft/types.js';
import { loadNodeState, saveNodeState, wipeSwarmState, type NodeState } from './node-state.js';

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

interface ClusterRuntime {
  state: NodeState;
  certTimer?: NodeJS.Timeout;
  certWork?: Promise<void>;
  store: Store;
  raft: RaftNode;
  manager: Manager;
  agent: Agent;
}

export class ShoalDaemon {
  private api: ApiServer | undefined;
  private cluster: ClusterRuntime | undefined;
  readonly executor: DockerExecutor;
  private transition: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: DaemonOptions) {
    this.executor = new DockerExecutor({
      runtimeUrl: o.runtime,
      hostname: o.hostname ?? osHostname(),
      clusterId: () => this.cluster?.state.clusterId ?? '',
      nodeId: () => this.cluster?.state.nodeId ?? '',
    });
  }

  async start(): Promise<void> {
    await mkdir(this.o.dataRoot, { recursive: true, mode: 0o700 });
    const state = await loadNodeState(this.o.dataRoot);
    if (state) await this.startCluster(state);
    this.api = createApiServer({ control: new NodeControl(this), runtimeUrl: this.o.runtime, logger: this.o.logger.child('api') });
    await this.api.listen(socketPath(this.o.host));
    this.o.logger.info('shoal daemon listening', { host: this.o.host, inSwarm: Boolean(state) });
  }

  async stop(): Promise<void> {
    await this.api?.close();
    await this.stopCluster();
  }

  inSwarm(): boolean {
    return Boolean(this.cluster);
  }

  isManager(): boolean {
    return this.cluster?.state.role === 'manager';
  }

  clusterControl(): ClusterControl | undefined {
    const c = this.cluster;
    return c && c.state.role === 'manager' && c.manager.isLeader ? c.manager.control : undefined;
  }

  /** Before a control-API read: this manager confirms it still leads (ReadIndex), or fails with Docker's text. */
  async readBarrier(): Promise<void> {
    const c = this.cluster;
    if (!c) return;
    try {
      await c.raft.readBarrier();
    } catch (e) {
      if (e instanceof NotLeaderError) throw new ShoalError('unavailable', NO_LEADER);
      throw e;
    }
  }

  newJoinToken(_role: 'worker' | 'manager'): string {
    const c = this.cluster?.store.view((tx) => tx.all('cluster')[0]);
    return newJoinToken(c?.RootCA.CACert ?? '', cryptoRandom);
  }

  /** `swarm init`: a new one-manager cluster with this node as its leader. */
  initSwarm(req: InitRequest): Promise<NodeId> {
    const run = async (): Promise<NodeId> => {
      if (this.cluster) throw new ShoalError('unavailable', 'This node is already part of a swarm.');
      const listenAddr = req.ListenAddr && req.ListenAddr !== '0.0.0.0:2377' ? req.ListenAddr : this.o.listenAddr;
      const advertise = resolveAdvertise(req.AdvertiseAddr || this.o.advertiseAddr, listenAddr);
      const nodeId = newId<NodeId>(cryptoRandom);
      const clusterId = newId(cryptoRandom);
      const state: NodeState = {
        format: 1,
        nodeId,
        clusterId,
        role: 'manager',
        listenAddr,
        advertiseAddr: advertise,
      };
      const runtime = await this.openCluster(state);
      const description = await this.executor.describe();
      const port = splitHostPort(listenAddr, 2377).port;
      // The cluster's root CA: join tokens pin its certificate; node certificates come with joining.
      const ca = await createRootCA(Date.now());
      const caCert = ca.certPem;
      try {
        await runtime.store.update((tx) => {
          const cluster: ClusterObject = {
            ID: clusterId,
            Version: { Index: 0 },
            CreatedAt: tx.now,
            UpdatedAt: tx.now,
            Spec: normalizeClusterSpec({
              ...req.Spec,
              EncryptionConfig: { AutoLockManagers: Boolean(req.AutoLockManagers || req.Spec?.EncryptionConfig?.AutoLockManagers) },
            }),
            RootCA: { CACert: caCert, CAKey: ca.keyPem },
            JoinTokens: { Worker: newJoinToken(caCert, cryptoRandom), Manager: newJoinToken(caCert, cryptoRandom) },
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
        await saveNodeState(this.o.dataRoot, state);
      } catch (e) {
        await this.closeRuntime(runtime);
        await wipeSwarmState(this.o.dataRoot);
        throw e;
      }
      this.cluster = runtime;
      this.activate(runtime);
      return nodeId;
    };
    return this.serialize(run);
  }

  /** `swarm leave --force`: stop everything, remove this node's task containers, forget the swarm. */
  leaveSwarm(): Promise<void> {
    return this.serialize(async () => {
      const c = this.cluster;
      if (!c) return;
      c.manager.loseLeadership();
      // The executor finds containers by this node's identity, so clean up before forgetting it.
      await c.agent.stop();
      await c.agent.removeAllTasks();
      this.cluster = undefined;
      await this.closeRuntime(c);
      await wipeSwarmState(this.o.dataRoot);
    });
  }

  swarmInfo(): SwarmInfo {
    const c = this.cluster;
    if (!c) return { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
    const nodes = c.store.view((tx) => tx.all('node'));
    const managers = nodes.filter((n) => n.ManagerStatus);
    const info: SwarmInfo = {
      NodeID: c.state.nodeId,
      NodeAddr: c.state.advertiseAddr,
      LocalNodeState: 'active',
      ControlAvailable: c.state.role === 'manager',
      Error: '',
      RemoteManagers: managers.map((m) => ({ NodeID: m.ID, Addr: m.ManagerStatus!.Addr })),
      Nodes: nodes.length,
      Managers: managers.length,
    };
    if (c.state.role === 'manager') {
      const cluster = c.store.view((tx) => tx.all('cluster')[0]);
      if (cluster) info.Cluster = cluster;
    }
    return info;
  }

  private async startCluster(state: NodeState): Promise<void> {
    const runtime = await this.openCluster(state);
    this.cluster = runtime;
    this.activate(runtime);
  }

  private async openCluster(state: NodeState): Promise<ClusterRuntime> {
    const clock = systemClock;
    const proposer = new RaftProposer();
    const store: Store = new Store(proposer, clock);
    const raftSpec = (): NonNullable<ClusterObject['Spec']['Raft']> => store.view((tx) => tx.all('cluster')[0])?.Spec.Raft ?? {};
    const raft = new RaftNode({
      id: state.nodeId,
      voters: [state.nodeId],
      dir: path.join(this.o.dataRoot, 'raft'),
      tickMs: this.o.tickMs ?? 100,
      electionTick: () => raftSpec().ElectionTick ?? 10,
      heartbeatTick: () => raftSpec().HeartbeatTick ?? 1,
      snapshotInterval: () => raftSpec().SnapshotInterval ?? 10000,
      keepEntries: () => raftSpec().LogEntriesForSlowFollowers ?? 500,
      keepOldSnapshots: () => raftSpec().KeepOldSnapshots ?? 0,
      sm: new StoreStateMachine(() => store),
      // The data-encryption key lives with the node's key material (autolock will wrap it).
      cipher: await loadOrCreateDek(path.join(this.o.dataRoot, 'certificates', 'raft-dek.json')),
      random: cryptoRandom,
      logger: this.o.logger.child('raft'),
    });
    proposer.node = raft;
    await raft.start();
    await raft.waitForLeadership(10_000);
    const manager = new Manager({
      store,
      clock,
      random: cryptoRandom,
      logger: this.o.logger.child('manager'),
      logSource: (nodeId) => (nodeId === state.nodeId ? this.executor : undefined),
    });
    const agent = new Agent({
      nodeId: state.nodeId,
      addr: state.advertiseAddr,
      executor: this.executor,
      dispatcher: () => (manager.isLeader ? manager.dispatcher : undefined),
      logger: this.o.logger.child('agent'),
    });
    return { state, store, raft, manager, agent };
  }

  private activate(c: ClusterRuntime): void {
    // A one-manager cluster: this manager leads its one-member Raft group (waited for in openCluster).
    if (c.state.role === 'manager') c.manager.becomeLeader();
    c.agent.start();
    // The node certificate is checked now and hourly, and renewed past half its validity.
    c.certWork = this.renewCertificate(c);
    c.certTimer = setInterval(() => (c.certWork = this.renewCertificate(c)), 3600_000);
    c.certTimer.unref();
  }

  private async renewCertificate(c: ClusterRuntime): Promise<void> {
    const cluster = c.store.view((tx) => tx.all('cluster')[0]);
    if (!cluster?.RootCA.CAKey) return;
    const expiryNs = cluster.Spec.CAConfig.NodeCertExpiry;
    const validityMs = expiryNs ? Math.floor(expiryNs / 1e6) : DEFAULT_NODE_CERT_EXPIRY_MS;
    try {
      const ca = { certPem: cluster.RootCA.CACert, keyPem: cluster.RootCA.CAKey };
      const id = { nodeId: c.state.nodeId, role: c.state.role, clusterId: c.state.clusterId };
      if (await ensureNodeCertificate(this.o.dataRoot, ca, id, Date.now(), validityMs)) this.o.logger.info('issued this node\'s certificate', { node: id.nodeId });
    } catch (e) {
      this.o.logger.warn('node certificate renewal failed', { error: String(e) });
    }
  }

  private async closeRuntime(c: ClusterRuntime): Promise<void> {
    clearInterval(c.certTimer);
    await c.certWork; // never let a renewal write certificates after the swarm state is wiped
    c.manager.loseLeadership();
    await c.agent.stop();
    await c.raft.stop();
  }

  private async stopCluster(): Promise<void> {
    const c = this.cluster;
    if (!c) return;
    this.cluster = undefined;
    await this.closeRuntime(c);
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.transition.then(fn, fn);
    this.transition = p.catch(() => undefined);
    return p;
  }
}

function availability(a: string | undefined): 'active' | 'pause' | 'drain' {
  return a === 'pause' || a === 'drain' ? a : 'active';
}

function socketPath(host: string): string {
  if (!host.startsWith('unix://')) throw new Error(`--host must be a unix socket (unix:///path), got ${host}`);
  return host.slice('unix://'.length);
}
