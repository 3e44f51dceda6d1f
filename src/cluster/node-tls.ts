/** A node's TLS material as its connections use it (stored by the daemon, see node-certs.ts). */
import { X509Certificate } from 'node:crypto';
import { tlsInfoOf } from '../manager/ca/root-ca.js';
import type { TlsInfo } from '../store/types.js';

export interface NodeTls {
  key: string;
  cert: string;
  /**
   * The roots this node trusts for node-to-node connections (PEM): the cluster's root CA, and
   * during a root rotation the new root as well.
   */
  ca: string;
}

/** The certificates of a PEM bundle, each as its own PEM. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Whether certPem was signed by the key of the CA certificate rootPem. */
export function signedBy(certPem: string, rootPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const root = new X509Certificate(rootPem);
    return cert.checkIssued(root) && cert.verify(root.publicKey);
  } catch {
    return false;
  }
}

/** What this node reports as its TLSInfo: what it trusts, and the root its certificate comes from. */
export function tlsInfoOfNode(t: NodeTls): TlsInfo {
  const issuer = splitPem(t.ca).find((root) => signedBy(t.cert, root));
  const info = issuer ? tlsInfoOf(`${issuer}\n`) : { CertIssuerSubject: '', CertIssuerPublicKey: '' };
  return { TrustRoot: t.ca, CertIssuerSubject: info.CertIssuerSubject, CertIssuerPublicKey: info.CertIssuerPublicKey };
}
