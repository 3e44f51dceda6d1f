/**
 * The cluster's root CA, made at `swarm init` as swarm makes it: a self-signed ECDSA P-256
 * certificate for CN=swarm-ca, valid 20 years, allowed to sign certificates only. Its PEM is what
 * join tokens pin (their digest part) and what `docker swarm ca` prints.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

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
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: 'CN=swarm-ca',
    // Backdated a little, as swarm does, so a slightly slow clock elsewhere still accepts it.
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + ROOT_CA_VALIDITY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PRIVATE KEY-----\n`;
  return { certPem: `${cert.toString('pem')}\n`, keyPem };
}

/** What Docker's TLSInfo carries about a root: its PEM, and the issuer subject and key in DER, base64. */
export function tlsInfoOf(certPem: string): { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string } {
  const cert = new x509.X509Certificate(certPem);
  return {
    TrustRoot: certPem,
    CertIssuerSubject: Buffer.from(cert.subjectName.toArrayBuffer()).toString('base64'),
    CertIssuerPublicKey: Buffer.from(cert.publicKey.rawData).toString('base64'),
  };
}
