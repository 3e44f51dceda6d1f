/**
 * The cluster's root CA, made at `swarm init` as swarm makes it: a self-signed ECDSA P-256
 * certificate for CN=swarm-ca, valid 20 years, allowed to sign certificates only. Its PEM is what
 * join tokens pin (their digest part) and what `docker swarm ca` prints.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import { createPrivateKey, createPublicKey, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { ouOfRole } from '../../common/node-role.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
export const ROOT_CA_VALIDITY_MS = 20 * 365 * 24 * 3600 * 1000;

export interface RootCA {
  certPem: string;
  keyPem: string;
}

export async function createRootCA(now: number): Promise<RootCA> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: 'CN=swarm-ca',
    // Backdated a little, as swarm does, so a slightly slow clock elsewhere still accepts it.
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + ROOT_CA_VALIDITY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      // Every root is CN=swarm-ca: key identifiers let TLS tell the old and the new one apart in a rotation.
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: `${cert.toString('pem')}\n`, keyPem: toPem('PRIVATE KEY', pkcs8) };
}

/** What Docker's TLSInfo carries about a root: its PEM, and the issuer subject and key in DER, base64. */
export function tlsInfoOf(certPem: string): {
  TrustRoot: string;
  CertIssuerSubject: string;
  CertIssuerPublicKey: string;
} {
  const cert = new x509.X509Certificate(certPem);
  return {
    TrustRoot: certPem,
    CertIssuerSubject: Buffer.from(cert.subjectName.toArrayBuffer()).toString('base64'),
    CertIssuerPublicKey: Buffer.from(cert.publicKey.rawData).toString('base64'),
  };
}

export interface NodeCertificate {
  certPem: string;
  keyPem: string;
}

const toPem = (label: string, der: ArrayBuffer): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END ${label}-----\n`;

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/**
 * A node's certificate, as swarm issues it: CN = node ID, OU = its role (swarm-manager or
 * swarm-worker), O = the cluster ID, signed by the root CA, valid for the CA config's NodeCertExpiry.
 * The key is made here (a manager issuing its own certificate).
 */
export async function issueNodeCertificate(
  ca: RootCA,
  o: { nodeId: string; role: 'manager' | 'worker'; clusterId: string; now: number; validityMs: number },
): Promise<NodeCertificate> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certPem = await signCertificate(ca, keys.publicKey, o);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem, keyPem: toPem('PRIVATE KEY', pkcs8) };
}

/** A joining node's key and the certificate request it sends (its key never leaves the node). */
export async function createCsr(): Promise<{ csrPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=swarm-node',
    keys,
    signingAlgorithm: ALG,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { csrPem: csr.toString('pem'), keyPem: toPem('PRIVATE KEY', pkcs8) };
}

/** Signs the key of a certificate request (whose own signature must hold) for the given identity. */
export async function signCsr(
  ca: RootCA,
  csrPem: string,
  o: { nodeId: string; role: 'manager' | 'worker'; clusterId: string; now: number; validityMs: number },
): Promise<string> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new Error('the certificate request is not a valid PKCS#10 request');
  }
  if (!(await csr.verify())) throw new Error('the certificate request is not signed by its key');
  return signCertificate(ca, csr.publicKey, o);
}

async function signCertificate(
  ca: RootCA,
  publicKey: webcrypto.CryptoKey | x509.PublicKey,
  o: { nodeId: string; role: 'manager' | 'worker'; clusterId: string; now: number; validityMs: number },
): Promise<string> {
  const caKey = await webcrypto.subtle.importKey('pkcs8', pemBody(ca.keyPem), ALG, false, ['sign']);
  const caCert = new x509.X509Certificate(ca.certPem);
  const ou = ouOfRole(o.role);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    subject: `CN=${o.nodeId}, OU=${ou}, O=${o.clusterId}`,
    issuer: caCert.subject,
    notBefore: new Date(o.now - 60 * 60 * 1000),
    notAfter: new Date(o.now + o.validityMs),
    signingAlgorithm: ALG,
    publicKey: publicKey as webcrypto.CryptoKey,
    signingKey: caKey,
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: ou },
        { type: 'dns', value: o.nodeId },
      ]),
    ],
  });
  return `${cert.toString('pem')}\n`;
}

/**
 * Checks a root CA given by the operator (`swarm ca --rotate --ca-cert [--ca-key]`): a CA
 * certificate, valid now, whose key is the one given (none: an external CA holds it). Returns what
 * is wrong, or undefined.
 */
export function rootCAProblem(certPem: string, keyPem: string | undefined, now: number): string | undefined {
  let cert: NodeX509;
  try {
    cert = new NodeX509(certPem);
  } catch {
    return 'the signing CA certificate is not a valid PEM-encoded X.509 certificate';
  }
  if (!cert.ca) return 'the signing CA certificate is not a CA certificate';
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo))
    return 'the signing CA certificate is expired or not yet valid';
  if (keyPem === undefined) return undefined;
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return 'the signing CA key is not a valid PEM-encoded private key';
  }
  const spki = (k: ReturnType<typeof createPublicKey>): Buffer => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(key)).equals(spki(cert.publicKey)))
    return 'the signing CA key does not match the signing CA certificate';
  return undefined;
}
