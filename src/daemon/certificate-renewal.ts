/**
 * Keeps this node's certificate and trust roots current while it is in a swarm: a manager holding
 * the CA key reissues its own certificate past half its life; any other node asks the leader for a
 * new one. Every node also checks in with the leader's CA: it reports what it trusts, learns the
 * roots to trust, and renews when the leader signs with another root (a root rotation).
 */
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import { signedBy, splitPem, tlsInfoOfNode } from '../cluster/node-tls.js';
import { desiredTrust, signingCA } from '../manager/ca/rotation.js';
import { createCsr } from '../manager/ca/root-ca.js';
import type { CaSyncAnswer } from './ca-server.js';
import type { NodeHost } from './host.js';
import {
  certValidityMs,
  ensureNodeCertificate,
  loadNodeTls,
  pastHalfLife,
  saveNodeTls,
  type NodeTls,
} from './node-certs.js';
import { leaderAddrOf, type ClusterRuntime } from './runtime.js';

/** How often a node checks in with the leader's CA; and while a root rotation is under way. */
const CA_SYNC_MS = 5000;
const CA_SYNC_ROTATING_MS = 1000;
/** How often the certificate's age is checked. */
const RENEW_CHECK_MS = 3600_000;

export class CertificateRenewal {
  constructor(
    private readonly host: NodeHost,
    private readonly logger: Logger,
  ) {}

  /** The duty: renewal now and hourly, CA check-ins from now on. */
  readonly duty = (rt: ClusterRuntime): (() => Promise<void>) => {
    let stopped = false;
    let renewing = this.renew(rt);
    const renewTimer = setInterval(() => (renewing = this.renew(rt)), RENEW_CHECK_MS);
    renewTimer.unref();
    let syncTimer: NodeJS.Timeout | undefined;
    let syncing: Promise<void> = Promise.resolve();
    const schedule = (delayMs: number): void => {
      if (stopped) return;
      syncTimer = setTimeout(() => {
        syncing = this.caSync(rt).then(schedule, (e: unknown) => {
          this.logger.debug('CA check-in with the leader failed', { error: errorMessage(e) });
          schedule(CA_SYNC_MS);
        });
      }, delayMs);
    };
    schedule(0);
    return async () => {
      stopped = true;
      clearInterval(renewTimer);
      clearTimeout(syncTimer);
      await syncing;
      // Never let a renewal write certificates after the swarm state is wiped.
      await renewing;
    };
  };

  /** A new key and a certificate for this node's current desired role, signed by the leader. */
  async fromLeader(rt: ClusterRuntime, knownLeader?: string): Promise<NodeTls> {
    // A demoted manager is no longer told who leads by Raft: it asks the managers it knows.
    const leader = knownLeader ?? (await leaderAddrOf(rt));
    const { csrPem, keyPem } = await createCsr();
    const r = await rt.client.call<{ cert: string; ca: string }>(leader, '/ca/renew', { csr: csrPem }, 30_000);
    return { key: keyPem, cert: r.cert, ca: r.ca };
  }

  private async renew(rt: ClusterRuntime): Promise<void> {
    const cluster = rt.mgr?.store.view((tx) => tx.all('cluster')[0]);
    const ca = cluster && signingCA(cluster);
    try {
      if (!cluster || !ca?.keyPem) {
        // A worker (or a manager whose swarm signs through an external CA) has no CA key: past half
        // its certificate's life it asks the leader for a new one.
        if (!pastHalfLife(rt.tls.cert, Date.now())) return;
        await this.use(rt, await this.fromLeader(rt));
        rt.client.closeAll();
        this.logger.info("renewed this node's certificate", { node: rt.state.nodeId });
        return;
      }
      const id = { nodeId: rt.state.nodeId, role: rt.state.role, clusterId: rt.state.clusterId };
      const root = { certPem: ca.certPem, keyPem: ca.keyPem };
      const validity = certValidityMs(cluster.Spec.CAConfig.NodeCertExpiry);
      if (
        await ensureNodeCertificate(
          this.host.dataRoot,
          root,
          id,
          Date.now(),
          validity,
          this.host.kek,
          desiredTrust(cluster),
        )
      ) {
        this.logger.info("issued this node's certificate", { node: id.nodeId });
        const t = await loadNodeTls(this.host.dataRoot, this.host.kek);
        if (t) {
          rt.tls = t;
          rt.mgr?.port.setTls(t);
        }
      }
    } catch (e) {
      this.logger.warn('node certificate renewal failed', { error: errorMessage(e) });
    }
  }

  /** One check-in; returns when to check in next: soon while a rotation is under way. */
  private async caSync(rt: ClusterRuntime): Promise<number> {
    const leader = await leaderAddrOf(rt);
    const a = await rt.client.call<CaSyncAnswer>(leader, '/ca/sync', { tls: tlsInfoOfNode(rt.tls) }, 10_000);
    if (this.host.runtime !== rt) return CA_SYNC_MS;
    let changed = false;
    if (a.trust !== rt.tls.ca) {
      await this.use(rt, { ...rt.tls, ca: a.trust });
      this.logger.info('trusting the root CA certificates the leader gave', { roots: splitPem(a.trust).length });
      changed = true;
    }
    if (!signedBy(rt.tls.cert, a.signer)) {
      await this.use(rt, await this.fromLeader(rt, leader));
      this.logger.info("renewed this node's certificate from the swarm's new root CA", { node: rt.state.nodeId });
      changed = true;
    }
    return changed ? 100 : a.rotating ? CA_SYNC_ROTATING_MS : CA_SYNC_MS;
  }

  private async use(rt: ClusterRuntime, t: NodeTls): Promise<void> {
    await saveNodeTls(this.host.dataRoot, t, this.host.kek);
    rt.tls = t;
    rt.mgr?.port.setTls(t);
  }
}
