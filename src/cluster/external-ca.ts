/**
 * An external CA (`--external-ca protocol=cfssl,url=...`): when the swarm does not hold the key of
 * the root that signs, node certificate requests go to a CFSSL signing endpoint, as swarm does. The
 * request names the node's identity (CN = node ID, OU = role, O = cluster ID, and the same SANs a
 * certificate signed here gets); the answer must be a certificate from the expected root for the key
 * of the request.
 */
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { ShoalError } from '../common/errors.js';
import type { ExternalCA } from '../store/types.js';
import { signedBy } from './node-tls.js';
import { ouOfRole } from '../common/node-role.js';

export interface ExternalSignRequest {
  csr: string;
  nodeId: string;
  role: 'manager' | 'worker';
  clusterId: string;
  /** The root the certificate must come from. */
  root: string;
  /** This manager's TLS material, presented to the CA as a client certificate when it has one. */
  client?: { key: string; cert: string; trust: string };
}

const TIMEOUT_MS = 30_000;

export async function signWithExternalCA(ca: ExternalCA, r: ExternalSignRequest): Promise<string> {
  const ou = ouOfRole(r.role);
  const body = JSON.stringify({
    certificate_request: r.csr,
    subject: { CN: r.nodeId, names: [{ OU: ou, O: r.clusterId }] },
    hosts: [ou, r.nodeId],
  });
  const answer = await post(ca, body, r.client);
  let parsed: { success?: boolean; result?: { certificate?: string }; errors?: { message?: string }[] };
  try {
    parsed = JSON.parse(answer) as typeof parsed;
  } catch {
    throw new ShoalError('unavailable', `external CA ${ca.URL} answered something that is not JSON`);
  }
  const cert = parsed.result?.certificate;
  if (!parsed.success || !cert) {
    throw new ShoalError(
      'unavailable',
      `external CA ${ca.URL} refused to sign: ${parsed.errors?.map((e) => e.message).join('; ') || 'no certificate'}`,
    );
  }
  if (!signedBy(cert, r.root))
    throw new ShoalError('unavailable', `external CA ${ca.URL} signed with another root than the swarm's`);
  const issued = new X509Certificate(cert);
  const subject = issued.subject.split('\n');
  if (!subject.includes(`CN=${r.nodeId}`) || !subject.includes(`OU=${ou}`) || !subject.includes(`O=${r.clusterId}`)) {
    throw new ShoalError(
      'unavailable',
      `external CA ${ca.URL} issued a certificate for another identity (${subject.join(', ')})`,
    );
  }
  return cert.endsWith('\n') ? cert : `${cert}\n`;
}

function post(ca: ExternalCA, body: string, client: ExternalSignRequest['client']): Promise<string> {
  const url = ca.URL;
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        // The CA's own certificate may come from its root, the swarm's roots or a public one.
        ca: [...rootCertificates, ...(ca.CACert ? [ca.CACert] : []), ...(client ? [client.trust] : [])],
        ...(client ? { key: client.key, cert: client.cert } : {}),
        timeout: TIMEOUT_MS,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`external CA ${url} did not answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (e) => reject(new ShoalError('unavailable', `external CA ${url}: ${e.message}`)));
    req.end(body);
  });
}
