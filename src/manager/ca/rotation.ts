/**
 * Root CA rotation (`docker swarm ca --rotate`), in two phases so that no connection breaks:
 *
 * 1. `trust`: every node is told to trust the old and the new root; certificates are still signed
 *    by the old one. Once every node that is up reports trusting the new root,
 * 2. `issue`: certificates are signed by the new root and every node renews. Once every node that is
 *    up reports a certificate from the new root, the new root becomes the cluster's only root (and
 *    the join tokens pin it); nodes then drop the old one from their trust.
 *
 * Swarm reaches the same end with a cross-signed intermediate; two phases with a trust bundle need
 * nothing but plain roots. A node down during the rotation must rejoin, as in swarm.
 */
import type { Clock } from '../../common/clock.js';
import { Reconciler } from '../reconciler.js';
import type { Logger } from '../../common/logging.js';
import type { Random } from '../../common/random.js';
import type { Store } from '../../store/store.js';
import type { ClusterObject, NodeObject, TlsInfo } from '../../store/types.js';
import { newJoinToken } from './join-token.js';
import { tlsInfoOf } from './root-ca.js';

const pemEnd = (pem: string): string => (pem.endsWith('\n') ? pem : `${pem}\n`);

/** The roots every node must trust now (PEM, concatenated). */
export function desiredTrust(c: ClusterObject): string {
  const r = c.RootCA.RootRotation;
  return r ? pemEnd(c.RootCA.CACert) + pemEnd(r.CACert) : c.RootCA.CACert;
}

/** The root that signs node certificates now, with its key when the swarm holds it (else an external CA signs). */
export function signingCA(c: ClusterObject): { certPem: string; keyPem: string | undefined } {
  const r = c.RootCA.RootRotation;
  if (r?.Phase === 'issue') return { certPem: r.CACert, keyPem: r.CAKey };
  return { certPem: c.RootCA.CACert, keyPem: c.RootCA.CAKey };
}

/** The root every node's certificate should end up issued by (what Docker's cluster TLSInfo shows). */
export function desiredIssuer(c: ClusterObject): string {
  return c.RootCA.RootRotation?.CACert ?? c.RootCA.CACert;
}

const sameIssuer = (a: TlsInfo | undefined, root: TlsInfo): boolean =>
  a !== undefined &&
  a.CertIssuerSubject === root.CertIssuerSubject &&
  a.CertIssuerPublicKey === root.CertIssuerPublicKey;

/**
 * The nodes a rotation waits for: all but those that are down (they rejoin afterwards), unless a
 * down node still checks in with the CA. A manager marked down while it restarted (say, locked
 * until unlocked) is alive; finishing without it would cut it off for good.
 */
const waitedFor = (nodes: readonly NodeObject[], checkingIn: (id: string) => boolean): NodeObject[] =>
  nodes.filter((n) => n.Status.State !== 'down' || checkingIn(n.ID));

/** How long a CA check-in keeps a node that is marked down among those a rotation waits for. */
export const CHECK_IN_GRACE_MS = 15_000;

/**
 * The cluster object after the next step of a rotation in progress, or undefined when the nodes
 * have not all caught up yet (or nothing is rotating).
 */
export function rotationStep(
  c: ClusterObject,
  nodes: readonly NodeObject[],
  random: Random,
  checkingIn: (id: string) => boolean = () => false,
): ClusterObject | undefined {
  const r = c.RootCA.RootRotation;
  if (!r) return undefined;
  const waiting = waitedFor(nodes, checkingIn);
  if (r.Phase === 'trust') {
    const newRoot = r.CACert.trim();
    if (!waiting.every((n) => n.TLSInfo?.TrustRoot.includes(newRoot))) return undefined;
    return { ...c, RootCA: { ...c.RootCA, RootRotation: { ...r, Phase: 'issue' } } };
  }
  const want = tlsInfoOf(r.CACert);
  if (!waiting.every((n) => sameIssuer(n.TLSInfo, want))) return undefined;
  return {
    ...c,
    RootCA: { CACert: r.CACert, CAKey: r.CAKey },
    // The tokens pin the root by its digest: new root, new tokens (as swarm does).
    JoinTokens: { Worker: newJoinToken(r.CACert, random), Manager: newJoinToken(r.CACert, random) },
  };
}

/**
 * The leader's component that moves a rotation on as the nodes report their TLS state. The nodes'
 * CA check-ins are recorded here (in memory: a new leader starts without them, as if none were down
 * and checking in).
 */
export class RootRotationReconciler extends Reconciler {
  private readonly checkIns = new Map<string, number>();

  constructor(
    store: Store,
    clock: Clock,
    private readonly random: Random,
    logger: Logger,
  ) {
    super('root CA rotation', store, clock, logger, 0);
  }

  override stop(): void {
    super.stop();
    this.checkIns.clear();
  }

  /** A node checked in with the CA (it is alive, whatever its heartbeats say). */
  checkedIn(nodeId: string): void {
    this.checkIns.set(nodeId, this.clock.now());
  }

  private readonly checkingIn = (id: string): boolean =>
    this.clock.now() - (this.checkIns.get(id) ?? -Infinity) < CHECK_IN_GRACE_MS;

  protected override interested(table: string): boolean {
    return table === 'node' || table === 'cluster';
  }

  protected async reconcile(): Promise<void> {
    if (!this.store.view((tx) => tx.all('cluster')[0]?.RootCA.RootRotation)) return;
    let rotating = false;
    await this.store.update((tx) => {
      const c = tx.all('cluster')[0];
      rotating = c?.RootCA.RootRotation !== undefined;
      const next = rotating && c ? rotationStep(c, tx.all('node'), this.random, this.checkingIn) : undefined;
      if (!next) return;
      tx.update('cluster', next);
      rotating = next.RootCA.RootRotation !== undefined;
      const phase = next.RootCA.RootRotation?.Phase;
      this.logger.info(
        phase === 'issue'
          ? 'root CA rotation: every node trusts the new root; issuing certificates from it'
          : 'root CA rotation complete',
      );
    });
    // Check-ins lapse without a store event: while a rotation is under way, look again now and then.
    if (rotating) this.kick(CHECK_IN_GRACE_MS / 3);
  }
}
