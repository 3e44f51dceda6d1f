/**
 * The composition root of one host: it builds the parts and wires them, and does no work itself.
 * Every node runs an agent holding a dispatcher session with the leader (runtime.ts); a manager
 * also runs a Raft member with the replicated store and serves the cluster port
 * (manager-runtime.ts). The Engine API server answers the docker CLI: node-level operations go to
 * this node's membership, cluster-level calls to the leader (control-forwarding.ts).
 */
import { chmod, mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import type { Logger } from '../common/logging.js';
import { DockerExecutor } from '../agent/executor/docker-executor.js';
import type { ManagerAddr } from '../cluster/remote-dispatcher.js';
import type { LogLine, LogOptions } from '../manager/controlapi/api.js';
import { clusterApi, type ClusterApi } from '../manager/controlapi/methods.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import { createApiServer, type ApiServer } from '../api/server.js';
import { serveUi, type UiServer } from '../ui/server.js';
import { localAttachments } from './attachments.js';
import { Autolock } from './autolock.js';
import { CertificateRenewal } from './certificate-renewal.js';
import { debugVars } from './debug-vars.js';
import { ControlForwarding } from './control-forwarding.js';
import { NodeHost } from './host.js';
import { isLocked } from './key-wrap.js';
import { DaemonMetrics } from './metrics.js';
import { serveMetrics, type MetricsServer } from './metrics-server.js';
import { loadNodeState, saveNodeState } from './node-state.js';
import { RoleSwitch } from './role-switch.js';
import type { ClusterRuntime } from './runtime.js';
import { SwarmMembership } from './swarm-membership.js';

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
  /** Cut a damaged Raft WAL at the damage instead of refusing to start. */
  repairWal?: boolean;
  /** `ADDR:PORT` to serve Prometheus metrics on (GET /metrics); off when unset. */
  metricsAddr?: string;
  /** `ADDR:PORT` to serve the visualizer on; off when unset (docs/visualizer.md). */
  uiAddr?: string;
  /** Required when `uiAddr` is beyond loopback: requests must carry it. */
  uiToken?: string;
  /** Raft stopped for good (a disk or apply error): the process must end so a supervisor restarts it from disk. */
  onFatal(err: Error): void;
  logger: Logger;
}

/** How long a restarted manager waits for a leader before its API opens. */
const START_LEADER_WAIT_MS = 5000;

export class ShoalDaemon {
  readonly executor: DockerExecutor;
  private readonly host: NodeHost;
  private readonly membership: SwarmMembership;
  private readonly autolock: Autolock;
  private readonly forwarding: ControlForwarding;
  /** Cluster-level calls, forwarded to the leader. */
  private readonly cluster: ClusterApi;
  private api: ApiServer | undefined;
  private readonly metrics: DaemonMetrics | undefined;
  private metricsServer: MetricsServer | undefined;
  private ui: UiServer | undefined;

  constructor(private readonly o: DaemonOptions) {
    const logger = o.logger;
    const tickMs = o.tickMs ?? 100;
    this.metrics = o.metricsAddr
      ? new DaemonMetrics(() => this.host.runtime?.mgr, path.join(o.dataRoot, 'raft'))
      : undefined;
    this.executor = new DockerExecutor({
      runtimeUrl: o.runtime,
      hostname: o.hostname ?? osHostname(),
      clusterId: () => this.host.runtime?.state.clusterId ?? '',
      nodeId: () => this.host.runtime?.state.nodeId ?? '',
    });
    this.host = new NodeHost(
      {
        dataRoot: o.dataRoot,
        logger,
        executor: this.executor,
        runtimeUrl: o.runtime,
        tickMs,
        repairWal: o.repairWal,
        instruments: this.metrics?.instruments,
        onFatal: (err) => o.onFatal(err),
        kek: () => this.host.kek,
        onRole: (rt, role) => roles.wanted(rt, role),
        onRemovedBy: (rt, addr) => roles.removedBy(rt, addr),
        onManagers: (rt, managers) => this.rememberManagers(rt, managers),
      },
      logger,
    );
    const certificates = new CertificateRenewal(this.host, logger.child('certificates'));
    const roles = new RoleSwitch(this.host, certificates, logger);
    this.autolock = new Autolock(this.host, logger.child('autolock'));
    this.host.addDuty(this.autolock.duty);
    this.host.addDuty(certificates.duty);
    // The visualizer's streams follow one store: a runtime coming or going ends them, and pages reconnect.
    this.host.addDuty(() => {
      this.ui?.storeChanged();
      return async () => this.ui?.storeChanged();
    });
    this.forwarding = new ControlForwarding(this.host, tickMs);
    this.cluster = clusterApi((m, args) => this.forwarding.invoke(m, args));
    this.membership = new SwarmMembership(this.host, {
      dataRoot: o.dataRoot,
      listenAddr: o.listenAddr,
      advertiseAddr: o.advertiseAddr,
      executor: this.executor,
      cluster: this.cluster,
      autolock: this.autolock,
      logger,
    });
  }

  get logger(): Logger {
    return this.o.logger;
  }

  async start(): Promise<void> {
    await mkdir(this.o.dataRoot, { recursive: true, mode: 0o700 });
    // Whoever made it, and however: the data root holds keys and the cluster state, for root only.
    await chmod(this.o.dataRoot, 0o700);
    const state = await loadNodeState(this.o.dataRoot);
    if (state && state.role === 'manager' && (await isLocked(this.o.dataRoot))) {
      this.host.locked = state;
      this.o.logger.info('this manager is locked (autolock); waiting for `swarm unlock`', { node: state.nodeId });
    } else if (state) {
      const rt = await this.host.open(state, false);
      this.host.activate(rt);
      // As dockerd does, give the manager a moment to find its leader before the API opens, so the
      // first command after a restart does not meet an election (a lone manager elects itself at once).
      await rt.mgr?.raft.until(() => rt.mgr?.raft.leader !== '', START_LEADER_WAIT_MS);
    }
    this.api = createApiServer({
      node: this.nodeApi(),
      cluster: this.cluster,
      runtimeUrl: this.o.runtime,
      logger: this.o.logger.child('api'),
      attachments: localAttachments(this.host, this.cluster),
    });
    await this.api.listen(socketPath(this.o.host));
    if (this.metrics && this.o.metricsAddr)
      this.metricsServer = await serveMetrics(this.metrics, this.o.metricsAddr, this.o.logger.child('metrics'));
    if (this.o.uiAddr)
      this.ui = await serveUi(
        {
          store: () => this.host.runtime?.mgr?.store,
          self: () => this.host.runtime?.state.nodeId ?? '',
          logs: (taskId, opts) => this.forwarding.logs('task', taskId, opts),
        },
        { addr: this.o.uiAddr, token: this.o.uiToken, logger: this.o.logger.child('ui') },
      );
    this.o.logger.info('shoal daemon listening', { host: this.o.host, inSwarm: Boolean(state) });
  }

  /** Where `--metrics-addr` listens (its port filled in when 0 was asked); undefined when off. */
  get metricsAddress(): { host: string; port: number } | undefined {
    return this.metricsServer?.address;
  }

  /** Where `--ui-addr` listens (its port filled in when 0 was asked); undefined when off. */
  get uiAddress(): { host: string; port: number } | undefined {
    return this.ui?.address;
  }

  async stop(): Promise<void> {
    await this.ui?.close();
    await this.metricsServer?.close();
    await this.api?.close();
    const rt = this.host.runtime;
    if (rt) await this.host.close(rt);
  }

  /** This node's operations, as the Engine API serves them. */
  private nodeApi(): NodeApi {
    return {
      swarmInit: (req) => this.membership.init(req),
      swarmJoin: (req) => this.membership.join(req),
      swarmLeave: (force) => this.membership.leave(force),
      swarmUnlock: (key) => this.autolock.unlock(key),
      swarmInfo: async () => this.membership.info(),
      logs: (kind: 'service' | 'task', ref: string, opts: LogOptions): AsyncIterable<LogLine> =>
        this.forwarding.logs(kind, ref, opts),
      swarmEvents: () => this.host.runtime?.mgr?.events,
      debugVars: () => debugVars(this.host),
    };
  }

  /** Keeps the manager list a worker falls back on when its manager goes away. */
  private rememberManagers(rt: ClusterRuntime, managers: ManagerAddr[]): void {
    const key = (l: readonly ManagerAddr[] | undefined): string =>
      JSON.stringify([...(l ?? [])].sort((a, b) => a.nodeId.localeCompare(b.nodeId)));
    if (key(rt.state.managers) === key(managers)) return;
    rt.state.managers = managers;
    if (this.host.runtime === rt) {
      void saveNodeState(this.o.dataRoot, rt.state).catch((e: unknown) =>
        this.o.logger.warn('saving the manager list failed', { error: String(e) }),
      );
    }
  }
}

function socketPath(host: string): string {
  if (!host.startsWith('unix://')) throw new Error(`--host must be a unix socket (unix:///path), got ${host}`);
  return host.slice('unix://'.length);
}
