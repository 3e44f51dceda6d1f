/**
 * The cluster runtime of a node that is in a swarm: its TLS identity, its connections to managers,
 * its agent, and — on a manager — the Raft member, the store and the manager's services. Opened
 * when the node enters a swarm (or restarts in one), closed when it leaves or switches role.
 */
import path from 'node:path';
import type { Logger } from '../common/logging.js';
import type { NodeRole } from '../common/node-role.js';
import { Agent } from '../agent/agent.js';
import { linuxHostNetworks } from '../agent/network/linux-host-networks.js';
import { TmpfsPayloadDirs } from '../agent/secrets/payload-dirs.js';
import { ClusterClient } from '../cluster/client.js';
import { LogPublisher } from '../cluster/log-broker.js';
import { RemoteDispatcher, type ManagerAddr } from '../cluster/remote-dispatcher.js';
import { openManager, type ManagerDeps, type ManagerParts } from './manager-runtime.js';
import { loadNodeTls, type NodeTls } from './node-certs.js';
import type { NodeState } from './node-state.js';

/** Tasks' secrets and configs live in tmpfs mounts here (memory only, never the data root). */
const SECRETS_ROOT = '/run/shoal/secrets';

export type { ManagerParts };

export interface ClusterRuntime {
  readonly state: NodeState;
  /** Replaced on renewal and during a root rotation. */
  tls: NodeTls;
  readonly client: ClusterClient;
  readonly remote: RemoteDispatcher;
  readonly agent: Agent;
  readonly mgr: ManagerParts | undefined;
}

/** What a runtime needs from the host, and how it reports what it learns. */
export interface RuntimeDeps extends ManagerDeps {
  /** The runtime engine (the agent makes the overlays' Docker networks there). */
  runtimeUrl: string;
  /** The cluster wants this node in another role (its heartbeat said so). */
  onRole(rt: ClusterRuntime, role: NodeRole): void;
  /** A manager at `addr` says this manager was removed from the Raft group. */
  onRemovedBy(rt: ClusterRuntime, addr: string): void;
  /** The managers a worker falls back on changed. */
  onManagers(rt: ClusterRuntime, managers: ManagerAddr[]): void;
}

export async function openRuntime(
  d: RuntimeDeps,
  state: NodeState,
  bootstrap: boolean,
  forceNewCluster = false,
): Promise<ClusterRuntime> {
  const tls = await loadNodeTls(d.dataRoot, d.kek());
  if (!tls)
    throw new Error(`this node is in a swarm but ${path.join(d.dataRoot, 'certificates')} holds no certificate`);
  // The runtime is referenced by callbacks before every part of it exists.
  const rt: { -readonly [K in keyof ClusterRuntime]?: ClusterRuntime[K] } & { state: NodeState; tls: NodeTls } = {
    state,
    tls,
  };
  const self = (): ClusterRuntime => rt as ClusterRuntime;
  // A known manager address must be served by that manager's certificate (from the store on a
  // manager, from the remembered list on a worker).
  const nodeAt = (addr: string): string | undefined =>
    (rt.mgr?.membership.managers() ?? rt.state.managers ?? []).find((m) => m.addr === addr)?.nodeId;
  const client = new ClusterClient(() => rt.tls, nodeAt);
  const remote = new RemoteDispatcher({
    client,
    managers: () => rt.state.managers ?? [],
    onManagers: (m) => d.onManagers(self(), m),
    logs: new LogPublisher(d.executor, client),
    logger: d.logger.child('session'),
  });
  rt.client = client;
  rt.remote = remote;
  const mgr =
    state.role === 'manager'
      ? await openManager(
          d,
          {
            state,
            tls: () => rt.tls,
            client,
            resetSession: () => rt.agent?.resetSession(),
            removedBy: (addr) => d.onRemovedBy(self(), addr),
          },
          bootstrap || Boolean(state.bootstrap),
          forceNewCluster,
        )
      : undefined;
  rt.mgr = mgr;
  rt.agent = new Agent({
    nodeId: state.nodeId,
    addr: state.advertiseAddr,
    executor: d.executor,
    // The leader's own agent uses the dispatcher in-process; every other agent goes over the network.
    dispatcher: () => (mgr?.manager.isLeader ? mgr.manager.dispatcher : remote),
    onRole: (role) => d.onRole(self(), role),
    logger: d.logger.child('agent'),
    // Per node, so several daemons on one host (labs, tests) never sweep each other's.
    payloadDirs: new TmpfsPayloadDirs(path.join(SECRETS_ROOT, state.nodeId)),
    instruments: d.instruments?.agent,
    networks: linuxHostNetworks({
      nodeId: state.nodeId,
      advertiseAddr: state.advertiseAddr,
      runtimeUrl: d.runtimeUrl,
      logger: d.logger,
    }),
  });
  return self();
}

/** Stops everything the runtime runs; its state on disk stays. A step that takes long is logged by name. */
export async function closeRuntime(rt: ClusterRuntime, logger: Logger): Promise<void> {
  const step = async (name: string, p: Promise<unknown>): Promise<void> => {
    const slow = setTimeout(() => logger.warn(`closing the cluster runtime: ${name} is taking long`), SLOW_CLOSE_MS);
    try {
      await p;
    } finally {
      clearTimeout(slow);
    }
  };
  rt.mgr?.membership.close();
  rt.mgr?.manager.loseLeadership();
  await step('stopping the agent', rt.agent.stop());
  rt.client.closeAll();
  if (rt.mgr) {
    rt.mgr.stopWatching();
    await step('stopping raft', rt.mgr.raft.stop());
    await step('closing raft connections', rt.mgr.transport.close());
    await step('closing the cluster port', rt.mgr.port.close());
  }
}

const SLOW_CLOSE_MS = 10_000;

/** The leader's cluster address: from Raft on a manager, by asking the known managers on a worker. */
export async function leaderAddrOf(rt: ClusterRuntime): Promise<string> {
  return rt.mgr?.membership.leaderAddr() ?? (await rt.remote.findLeader());
}
