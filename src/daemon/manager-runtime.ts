/**
 * A manager's parts: the store behind Raft, the Raft member on the cluster port, the manager's
 * leader-only components, and the cluster-port services every manager offers (CA, control-API
 * forwarding, dispatcher sessions, Raft membership).
 */
import path from 'node:path';
import tls from 'node:tls';
import { systemClock } from '../common/clock.js';
import { splitHostPort } from '../common/host-port.js';
import { cryptoRandom } from '../common/random.js';
import { LogBroker } from '../cluster/log-broker.js';
import { peerIdentityProblem } from '../cluster/client.js';
import { ClusterPort, RAFT_ALPN, secureOptions } from '../cluster/port.js';
import { SwarmEventLog } from '../manager/controlapi/events.js';
import { Manager } from '../manager/manager.js';
import { RaftNode } from '../raft/node.js';
import { TcpTransport } from '../raft/transport-tcp.js';
import { Store } from '../store/store.js';
import type { ClusterObject, NodeObject } from '../store/types.js';
import { CaServer } from './ca-server.js';
import { serveClusterRoutes } from './cluster-routes.js';
import { loadDataKeys } from './key-wrap.js';
import { RaftMembership } from './raft-membership.js';
import { RaftProposer, StoreStateMachine } from './raft-store.js';
import type { Logger } from '../common/logging.js';
import type { DockerExecutor } from '../agent/executor/docker-executor.js';
import type { ClusterClient } from '../cluster/client.js';
import type { NodeInstruments } from './instruments.js';
import type { NodeTls } from './node-certs.js';
import type { NodeState } from './node-state.js';

/** What a manager's parts need from the host. */
export interface ManagerDeps {
  dataRoot: string;
  logger: Logger;
  executor: DockerExecutor;
  /** Raft tick interval (ms). */
  tickMs: number;
  /** The key-encryption key the node's key material is wrapped with (autolock). */
  kek(): Buffer | undefined;
  /** Cut a damaged WAL at the damage instead of refusing to start (`--repair-wal`). */
  repairWal?: boolean;
  /** Raft stopped for good after a storage or apply error: the process must end. */
  onFatal(err: Error): void;
  /** Measurements for `--metrics-addr` (none when metrics are off). */
  instruments?: NodeInstruments;
}

/** The node runtime a manager's parts live in. */
export interface ManagerHost {
  readonly state: NodeState;
  tls(): NodeTls;
  readonly client: ClusterClient;
  /** The leader changed: the agent's dispatcher session starts over. */
  resetSession(): void;
  /** A manager at `addr` says this manager was removed from the Raft group. */
  removedBy(addr: string): void;
}

export interface ManagerParts {
  readonly store: Store;
  readonly raft: RaftNode;
  readonly transport: TcpTransport;
  readonly manager: Manager;
  readonly port: ClusterPort;
  readonly membership: RaftMembership;
  /** Swarm events from this manager's store (`docker events`). */
  readonly events: SwarmEventLog;
  /** Stops following the Raft leader (for the agent's session) and the store's events. */
  readonly stopWatching: () => void;
}

export async function openManager(
  d: ManagerDeps,
  rt: ManagerHost,
  firstMember: boolean,
  forceNewCluster: boolean,
): Promise<ManagerParts> {
  const { state } = rt;
  const proposer = new RaftProposer();
  const store = new Store(proposer, systemClock);
  const raftSpec = (): NonNullable<ClusterObject['Spec']['Raft']> =>
    store.view((tx) => tx.all('cluster')[0])?.Spec.Raft ?? {};
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
      return a ? splitHostPort(a, 2377) : undefined;
    },
    // Raft runs over mutual TLS on the cluster port; the peer must hold the certificate of the
    // very member this connection is for, with the manager role.
    dial: (a, id) => ({
      socket: tls.connect({
        host: a.host,
        port: a.port,
        ...secureOptions(rt.tls()),
        ALPNProtocols: [RAFT_ALPN],
        checkServerIdentity: (_h, cert) => peerIdentityProblem(cert, id),
      }),
      readyEvent: 'secureConnect',
    }),
    logger: d.logger.child('raft-net'),
  });
  const logs = new LogBroker();
  const manager: Manager = new Manager({
    store,
    clock: systemClock,
    random: cryptoRandom,
    logger: d.logger.child('manager'),
    // This node's task logs come from its engine; other nodes' through their sessions.
    logSource: (nodeId) => (nodeId === state.nodeId ? d.executor : logs.reader(nodeId)),
    leader: {
      decorate: (n): NodeObject => membership.decorate(n),
      checkDemote: (n): void => membership.checkDemote(n),
    },
    heartbeatLateness: d.instruments?.heartbeatLateness,
    schedulingDelay: d.instruments?.schedulingDelay,
  });
  const keys = await loadDataKeys(d.dataRoot, d.kek());
  const raft = new RaftNode({
    id: state.nodeId,
    // The first manager starts as the group; a joined one learns the membership from the leader.
    voters: firstMember ? [state.nodeId] : [],
    dir: path.join(d.dataRoot, 'raft'),
    tickMs: d.tickMs,
    electionTick: () => raftSpec().ElectionTick ?? 10,
    heartbeatTick: () => raftSpec().HeartbeatTick ?? 1,
    snapshotInterval: () => raftSpec().SnapshotInterval ?? 10000,
    keepEntries: () => raftSpec().LogEntriesForSlowFollowers ?? 500,
    keepOldSnapshots: () => raftSpec().KeepOldSnapshots ?? 0,
    sm: new StoreStateMachine(() => store),
    // The data-encryption key lives with the node's key material (autolock wraps it). While it is
    // being replaced, Raft writes with the pending key and still reads with the current one.
    cipher: keys.pending ?? keys.current,
    retiredCiphers: keys.pending ? [keys.current] : [],
    random: cryptoRandom,
    logger: d.logger.child('raft'),
    transport,
    // Called only once raft.start() runs, after `membership` exists.
    onLeadershipChange: (leading) => membership.leadershipChanged(leading),
    forceNewCluster,
    repairWal: d.repairWal,
    instruments: d.instruments?.raft,
    onFatal: (err) => d.onFatal(err),
    onRemoved: (by) => {
      const addr = addrOf(by);
      if (addr) rt.removedBy(addr);
    },
  });
  proposer.node = raft;
  const { host, port } = splitHostPort(state.listenAddr, 2377);
  const clusterPort = new ClusterPort({
    host,
    port,
    tls: rt.tls(),
    logger: d.logger.child('cluster-port'),
    refuse: (peer, access) => {
      if (peer.clusterId !== state.clusterId) return 'the certificate belongs to another swarm';
      const [started, node] = store.view((tx) => [tx.all('cluster').length > 0, tx.get('node', peer.nodeId)] as const);
      // A manager still catching up has no cluster state yet: it cannot tell, and lets Raft decide.
      if (!started) return undefined;
      if (!node) return `node ${peer.nodeId} is not a member of this swarm (it was removed)`;
      if (access === 'manager' && node.Spec.Role !== 'manager') return `node ${peer.nodeId} is no longer a manager`;
      return undefined;
    },
  });
  // Powers follow roles: a demoted node's manager-only streams end, a removed node's connections too.
  const unwatchRoles = store.watch((events) => {
    for (const e of events) {
      if (e.kind === 'commit' || e.table !== 'node') continue;
      const node = e.object as NodeObject;
      if (e.kind === 'delete') clusterPort.revoke(node.ID, 'all');
      else if (node.Spec.Role !== 'manager') clusterPort.revoke(node.ID, 'manager');
    }
  });
  clusterPort.onRaft((socket, peer) => transport.accept(socket, peer.nodeId));
  const membership: RaftMembership = new RaftMembership({
    store,
    raft,
    transport,
    manager,
    selfId: state.nodeId,
    addrOf,
    logger: d.logger.child('membership'),
  });
  const leaderAddr = (): string | undefined => membership.leaderAddr();
  new CaServer({
    store,
    manager,
    client: rt.client,
    tls: rt.tls,
    leaderAddr,
    managers: () => membership.managers(),
    logger: d.logger.child('ca'),
  }).serve(clusterPort);
  serveClusterRoutes(clusterPort, { raft, manager, logs, leaderAddr, managers: () => membership.managers() });
  // A new leader (or none) means a new dispatcher: the agent's session starts over.
  let lastLeader = '';
  const unobserve = raft.observe(() => {
    if (raft.leader === lastLeader) return;
    lastLeader = raft.leader;
    rt.resetSession();
  });
  const events = new SwarmEventLog(store, () => Date.now());
  const stopWatching = (): void => {
    unobserve();
    unwatchRoles();
    events.close();
  };
  await clusterPort.listen();
  try {
    await raft.start();
  } catch (e) {
    stopWatching();
    await clusterPort.close();
    throw e;
  }
  return { store, raft, transport, manager, port: clusterPort, membership, events, stopWatching };
}
