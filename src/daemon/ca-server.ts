/**
 * The swarm's CA on the cluster port: the root certificate for joiners, admission of joining nodes
 * (token check, node object, signed certificate), certificate renewal, and the nodes' periodic CA
 * check-in that carries trust roots and drives a root rotation. Any manager answers; the signing
 * happens on the leader (another manager forwards).
 */
import { sameValue } from '../common/canonical.js';
import { ShoalError, errorMessage } from '../common/errors.js';
import { hostOf } from '../common/host-port.js';
import { newId, type NodeId } from '../common/ids.js';
import type { Logger } from '../common/logging.js';
import type { NodeRole } from '../common/node-role.js';
import { cryptoRandom } from '../common/random.js';
import type { ClusterClient } from '../cluster/client.js';
import { signWithExternalCA } from '../cluster/external-ca.js';
import type { JoinAnswer, JoinCall } from '../cluster/join.js';
import { CaSyncCallSchema, CsrCallSchema, EmptySchema, JoinCallSchema } from '../cluster/messages.js';
import type { NodeTls } from '../cluster/node-tls.js';
import type { ClusterPort } from '../cluster/port.js';
import type { ManagerAddr } from '../cluster/remote-dispatcher.js';
import { externalCAFor } from '../manager/ca/external-ca.js';
import { desiredTrust, signingCA } from '../manager/ca/rotation.js';
import { signCsr } from '../manager/ca/root-ca.js';
import { clusterOf } from '../manager/controlapi/cluster.js';
import { availabilityOf, joinedNode } from '../manager/controlapi/swarm-init.js';
import type { Manager } from '../manager/manager.js';
import type { Store } from '../store/store.js';
import type { ClusterObject, TlsInfo } from '../store/types.js';
import { certValidityMs } from './node-certs.js';
import { JoinLimiter } from './join-limiter.js';
import { NO_LEADER } from './raft-store.js';

/** The leader's answer to a node's CA check-in. */
export interface CaSyncAnswer {
  /** The roots to trust (PEM, concatenated). */
  trust: string;
  /** The root whose certificates nodes must hold (renew when yours is from another). */
  signer: string;
  rotating: boolean;
}

export interface CaServerOptions {
  store: Store;
  manager: Manager;
  /** For forwarding to the leader. */
  client: ClusterClient;
  /** This manager's TLS identity (it authenticates to an external CA with it). */
  tls: () => NodeTls;
  leaderAddr: () => string | undefined;
  /** The managers a joining node is told about. */
  managers: () => ManagerAddr[];
  logger: Logger;
}

export class CaServer {
  private readonly joinLimiter = new JoinLimiter();

  constructor(private readonly o: CaServerOptions) {}

  serve(port: ClusterPort): void {
    port.call('/ca/root', 'anyone', EmptySchema, async () => ({ ca: clusterOf(this.o.store).RootCA.CACert }));
    port.call('/ca/join', 'anyone', JoinCallSchema, (body, ctx) =>
      this.join(body, ctx.peer ? undefined : ctx.remoteAddr),
    );
    // A node renews only its own certificate, for the role the store gives it, on the leader itself
    // (no manager signs on another's word for who is asking).
    port.call('/ca/renew', 'node', CsrCallSchema, (body, ctx) => this.renew(body.csr, ctx.peer!.nodeId));
    port.call('/ca/sync', 'node', CaSyncCallSchema, (body, ctx) => this.caSync(ctx.peer!.nodeId, body.tls));
  }

  /** Admits a node; `from` is the joiner's address when it called this manager itself (not forwarded). */
  private async join(call: JoinCall, from: string | undefined): Promise<JoinAnswer> {
    // The manager the joiner called checks its token (and how often it guessed wrong) first.
    const role = this.joinLimiter.check(call.token, clusterOf(this.o.store).JoinTokens, from);
    if (!this.o.manager.isLeader) {
      // A joiner has no certificate to reach the leader with: this manager forwards its request.
      const leader = this.o.leaderAddr();
      if (!leader) throw new ShoalError('unavailable', NO_LEADER);
      return this.o.client.call<JoinAnswer>(leader, '/ca/join', call, 30_000);
    }
    const cluster = clusterOf(this.o.store);
    const nodeId = newId<NodeId>(cryptoRandom);
    const cert = await this.sign(cluster, call.csr, nodeId, role);
    // A manager's node makes the membership reconciler add it to the Raft group as a learner at once.
    await this.o.store.update((tx) =>
      tx.create(
        'node',
        joinedNode({
          nodeId,
          role,
          availability: availabilityOf(call.availability),
          description: call.description,
          ip: hostOf(call.addr),
          clusterAddr: call.addr,
          now: tx.now,
        }),
      ),
    );
    this.o.logger.info('node joined', { node: nodeId, role, addr: call.addr });
    return { nodeId, clusterId: cluster.ID, role, cert, ca: desiredTrust(cluster), managers: this.o.managers() };
  }

  /** A node's new certificate: for its current desired role (promote/demote), or before expiry. */
  private async renew(csr: string, nodeId: string): Promise<{ cert: string; ca: string }> {
    if (!this.o.manager.isLeader) throw new ShoalError('unavailable', NO_LEADER);
    const node = this.o.store.view((tx) => tx.get('node', nodeId));
    if (!node) throw new ShoalError('permission_denied', `node ${nodeId} is not a member of this swarm`);
    const cluster = clusterOf(this.o.store);
    return { cert: await this.sign(cluster, csr, nodeId, node.Spec.Role), ca: desiredTrust(cluster) };
  }

  /**
   * Signs a node's certificate request with the root that signs now (the new one late in a root
   * rotation): here when the swarm holds its key, else through the swarm's external CA.
   */
  private async sign(cluster: ClusterObject, csr: string, nodeId: string, role: NodeRole): Promise<string> {
    const ca = signingCA(cluster);
    if (!ca.keyPem) {
      const ext = externalCAFor(cluster.Spec.CAConfig.ExternalCAs, ca.certPem);
      if (!ext)
        throw new ShoalError(
          'failed_precondition',
          'this swarm has no CA key to sign certificates with, and no external CA for its root',
        );
      const t = this.o.tls();
      return signWithExternalCA(ext, {
        csr,
        nodeId,
        role,
        clusterId: cluster.ID,
        root: ca.certPem,
        client: { key: t.key, cert: t.cert, trust: t.ca },
      });
    }
    try {
      return await signCsr({ certPem: ca.certPem, keyPem: ca.keyPem }, csr, {
        nodeId,
        role,
        clusterId: cluster.ID,
        now: Date.now(),
        validityMs: certValidityMs(cluster.Spec.CAConfig.NodeCertExpiry),
      });
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
    const cluster = clusterOf(this.o.store);
    return {
      trust: desiredTrust(cluster),
      signer: signingCA(cluster).certPem,
      rotating: cluster.RootCA.RootRotation !== undefined,
    };
  }
}
