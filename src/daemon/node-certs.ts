/**
 * This node's TLS identity on disk (`<data-root>/certificates/`): the root CA certificate and a node
 * certificate + key issued by it (CN = node ID, OU = role, O = cluster ID). Reissued when missing,
 * when the role changed, or when less than half of its validity is left, so it never expires under
 * a running node. Written atomically; keys are readable by root only.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { ouOfRole, type NodeRole } from '../common/node-role.js';
import { issueNodeCertificate, type RootCA } from '../manager/ca/root-ca.js';
import type { NodeTls } from '../cluster/node-tls.js';
import { openKeyPem, sealKeyPem } from './key-wrap.js';

export type { NodeTls };

export const DEFAULT_NODE_CERT_EXPIRY_MS = 90 * 24 * 3600 * 1000;

export interface NodeIdentity {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
}

/** The CA config's NodeCertExpiry (nanoseconds, 0 or absent for the default) in milliseconds. */
export function certValidityMs(expiryNs: number | undefined): number {
  return expiryNs ? Math.floor(expiryNs / 1e6) : DEFAULT_NODE_CERT_EXPIRY_MS;
}

/** Past half its validity a certificate is renewed, so it never expires under a running node. */
export function pastHalfLife(pem: string, now: number): boolean {
  const c = new X509Certificate(pem);
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  return now >= from + (to - from) / 2;
}

/**
 * Issues this manager its own certificate from `ca` when it has none for its identity from that CA
 * or it is past half its life; `trust` is what to trust (the roots, during a root rotation).
 * Returns true when a new certificate was issued.
 */
export async function ensureNodeCertificate(
  dataRoot: string,
  ca: RootCA,
  id: NodeIdentity,
  now: number,
  validityMs: number,
  kek?: Buffer,
  trust = ca.certPem,
): Promise<boolean> {
  const dir = path.join(dataRoot, 'certificates');
  const certFile = path.join(dir, 'swarm-node.crt');
  const ou = ouOfRole(id.role);
  try {
    const pem = await readFile(certFile, 'utf8');
    const cur = new X509Certificate(pem);
    const sameIdentity =
      cur.subject.split('\n').sort().join(',') ===
      [`CN=${id.nodeId}`, `O=${id.clusterId}`, `OU=${ou}`].sort().join(',');
    const signedByCa = cur.verify(new X509Certificate(ca.certPem).publicKey);
    if (sameIdentity && signedByCa && !pastHalfLife(pem, now)) return false;
  } catch {
    // missing or unreadable: issue one
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cert = await issueNodeCertificate(ca, { ...id, now, validityMs });
  await saveNodeTls(dataRoot, { key: cert.keyPem, cert: cert.certPem, ca: trust }, kek);
  return true;
}

export async function loadNodeTls(dataRoot: string, kek?: Buffer): Promise<NodeTls | undefined> {
  const dir = path.join(dataRoot, 'certificates');
  try {
    const [key, cert, ca] = await Promise.all(
      ['swarm-node.key', 'swarm-node.crt', 'swarm-root-ca.crt'].map((f) => readFile(path.join(dir, f), 'utf8')),
    );
    return { key: openKeyPem(key!, kek), cert: cert!, ca: ca! };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Stores certificates a manager issued to this node (join, renewal). */
export async function saveNodeTls(dataRoot: string, t: NodeTls, kek?: Buffer): Promise<void> {
  const dir = path.join(dataRoot, 'certificates');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(dir, 'swarm-root-ca.crt'), t.ca, 0o644);
  await writeFileAtomic(path.join(dir, 'swarm-node.key'), sealKeyPem(t.key, kek), 0o600);
  await writeFileAtomic(path.join(dir, 'swarm-node.crt'), t.cert, 0o644);
}
