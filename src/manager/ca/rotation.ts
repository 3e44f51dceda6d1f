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
import { errorMessage } from '../../common/errors.js';
import type { Clock } from '../../common/clock.js';
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
  a !== undefined && a.CertIssuerSubject === root.CertIssuerSubject && a.CertIssuerPublicKey === root.CertIssuerPublicKey;

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
export function rotationStep(c: ClusterObject, nodes: readonly NodeObject[], random: Random, checkingIn: (id: string) => boolean = () => false): ClusterObject | undefined {
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
export class RootRotationReconciler {
  private unwatch: (() => void) | undefined;
  private cancelTick: (() => void) | undefined;
  private busy = false;
  private again = false;
  private readonly checkIns = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly logger: Logger,
  ) {}

  run(): void {
    this.unwatch = this.store.watch((events) => {
      if (events.some((e) => e.kind !== 'commit' && (e.table === 'node' || e.table === 'cluster'))) this.check();
    });
    this.tick();
    this.check();
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.cancelTick?.();
    this.cancelTick = undefined;
    this.checkIns.clear();
  }

  /** A node checked in with the CA (it is alive, whatever its heartbeats say). */
  checkedIn(nodeId: string): void {
    this.checkIns.set(nodeId, this.clock.now());
  }

  private readonly checkingIn = (id: string): boolean => this.clock.now() - (this.checkIns.get(id) ?? -Infinity) < CHECK_IN_GRACE_MS;

  /** Check-ins expire without a store event: look again now and then. */
  private tick(): void {
    this.cancelTick = this.clock.setTimer(CHECK_IN_GRACE_MS / 3, () => {
      if (!this.unwatch) return;
      this.check();
      this.tick();
    });
  }

  private check(): void {
    if (!this.unwatch) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    const due = this.store.view((tx) => {
      const c = tx.all('cluster')[0];
      return c?.RootCA.RootRotation !== undefined && rotationStep(c, tx.all('node'), this.random, this.checkingIn) !== undefined;
    });
    if (!due) return;
    this.busy = true;
    this.store
      .update((tx) => {
        const c = tx.all('cluster')[0];
        const next = c && rotationStep(c, tx.all('node'), this.random, this.checkingIn);
        if (!next) return;
        tx.update('cluster', next);
        const phase = next.RootCA.RootRotation?.Phase;
        this.logger.info(phase === 'issue' ? 'root CA rotation: every node trusts the new root; issuing certificates from it' : 'root CA rotation complete');
      })
      .catch((e: unknown) => this.logger.warn('root CA rotation step failed', { error: errorMessage(e) }))
      .finally(() => {
        this.busy = false;
        if (this.again) {
          this.again = false;
          this.check();
        }
      });
  }
}
