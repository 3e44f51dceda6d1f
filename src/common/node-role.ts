/**
 * A node's role and the certificate field that carries it: swarm puts `swarm-manager` or
 * `swarm-worker` in the OU of every node certificate, and that OU is the only source of a peer's
 * role on the cluster port.
 */
import { X509Certificate } from 'node:crypto';

export type NodeRole = 'manager' | 'worker';

export function ouOfRole(role: NodeRole): string {
  return role === 'manager' ? 'swarm-manager' : 'swarm-worker';
}

/** The role an OU names, or undefined for anything else. Accepts the array form Node gives for repeated fields. */
export function roleOfOu(ou: string | string[] | undefined): NodeRole | undefined {
  const v = Array.isArray(ou) ? ou[0] : ou;
  return v === 'swarm-manager' ? 'manager' : v === 'swarm-worker' ? 'worker' : undefined;
}

/** The role of a PEM certificate's subject. */
export function roleOfCertificate(pem: string): NodeRole | undefined {
  const ou = /^OU=(.*)$/m.exec(new X509Certificate(pem).subject)?.[1];
  return roleOfOu(ou);
}
