/**
 * Joining a swarm, both ends. The joining node has no certificate yet: it connects without one,
 * fetches the root CA certificate and pins it by the digest in the join token, checks the manager's
 * certificate against it, and sends a certificate request with the token. The leader checks the
 * token's secret (which decides the role), creates the node, and signs the request; the node's key
 * never leaves it.
 */
import { X509Certificate } from 'node:crypto';
import http2 from 'node:http2';
import tls from 'node:tls';
import { ShoalError, errorMessage } from '../common/errors.js';
import { caDigest, parseJoinToken } from '../manager/ca/join-token.js';
import { createCsr } from '../manager/ca/root-ca.js';
import type { NodeDescription } from '../store/types.js';
import type { NodeTls } from './node-tls.js';
import { unwire } from './client.js';
import { splitHostPort } from '../common/host-port.js';
import { roleOfCertificate } from '../common/node-role.js';
import { signedBy, splitPem } from './node-tls.js';
import type { WireError } from './port.js';

export const INVALID_JOIN_TOKEN = 'A valid join token is necessary to join this cluster';

export interface JoinCall {
  token: string;
  csr: string;
  /** Where managers reach this node (`ip:port` of its cluster port). */
  addr: string;
  availability: 'active' | 'pause' | 'drain';
  description: NodeDescription;
}

export interface JoinAnswer {
  nodeId: string;
  clusterId: string;
  role: 'manager' | 'worker';
  cert: string;
  ca: string;
  /** The managers and their cluster addresses, the joining node's first list of remotes. */
  managers: { nodeId: string; addr: string }[];
}

export interface JoinResult extends Omit<JoinAnswer, 'cert' | 'ca'> {
  tls: NodeTls;
}

/** The joining side: returns the new identity and certificates. */
export async function requestJoin(remote: string, o: Omit<JoinCall, 'csr'>, timeoutMs = 20_000): Promise<JoinResult> {
  const token = parseJoinToken(o.token);
  if (!token) throw new ShoalError('invalid_argument', 'invalid join token');
  const { csrPem, keyPem } = await createCsr();
  const { host, port } = splitHostPort(remote, 2377);
  let serverCert: Buffer | undefined;
  const session = http2.connect(`https://${remote}`, {
    createConnection: () => {
      const sock = tls.connect({ host, port, ALPNProtocols: ['h2'], rejectUnauthorized: false });
      sock.on('error', () => undefined);
      sock.once('secureConnect', () => (serverCert = sock.getPeerCertificate().raw));
      return sock;
    },
  });
  session.on('error', () => undefined);
  const timer = setTimeout(() => session.destroy(new Error('timed out')), timeoutMs);
  try {
    const { ca } = await post<{ ca: string }>(session, '/ca/root', {});
    if (caDigest(ca) !== token.digest) {
      throw new ShoalError('invalid_argument', `remote CA does not match fingerprint. Expected: ${token.digest}`);
    }
    const problem = serverProblem(serverCert, ca, Date.now());
    if (problem) throw new ShoalError('invalid_argument', `the node at ${remote} ${problem}`);
    // The token goes only to a manager of the swarm it names.
    const a = await post<JoinAnswer>(session, '/ca/join', { ...o, csr: csrPem } satisfies JoinCall);
    const answerProblem = joinAnswerProblem(a, ca);
    if (answerProblem)
      throw new ShoalError('invalid_argument', `the manager at ${remote} answered the join with ${answerProblem}`);
    return {
      nodeId: a.nodeId,
      clusterId: a.clusterId,
      role: a.role,
      managers: a.managers,
      tls: { key: keyPem, cert: a.cert, ca: a.ca },
    };
  } catch (e) {
    if (e instanceof ShoalError) throw e;
    throw new ShoalError('unavailable', `could not join the swarm at ${remote}: ${errorMessage(e)}`);
  } finally {
    clearTimeout(timer);
    session.destroy();
  }
}

/** Why the certificate the server showed is not a current manager certificate of the pinned root (undefined when it is). */
export function serverProblem(der: Buffer | undefined, rootPem: string, now: number): string | undefined {
  if (!der) return 'showed no certificate';
  const cert = new X509Certificate(der);
  if (!cert.verify(new X509Certificate(rootPem).publicKey))
    return 'does not hold a certificate of the swarm the token names';
  if (roleOfCertificate(cert.toString()) !== 'manager') return 'is not a manager of the swarm';
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo))
    return 'holds a certificate that is not valid now';
  return undefined;
}

/** What is wrong with the certificate and trust bundle a join brought, checked against the pinned root. */
export function joinAnswerProblem(a: JoinAnswer, pinnedRoot: string): string | undefined {
  const roots = splitPem(a.ca);
  const pinned = new X509Certificate(pinnedRoot);
  if (!roots.some((r) => new X509Certificate(r).fingerprint256 === pinned.fingerprint256))
    return 'a trust bundle without the pinned root CA';
  if (!roots.some((r) => signedBy(a.cert, r))) return 'a certificate no root of its trust bundle signed';
  const cert = new X509Certificate(a.cert);
  if (!new RegExp(`^CN=${a.nodeId}$`, 'm').test(cert.subject) || roleOfCertificate(a.cert) !== a.role)
    return 'a certificate for another identity';
  return undefined;
}

function post<T>(session: http2.ClientHttp2Session, path: string, body: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' });
    let status = 0;
    let text = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      try {
        const v = JSON.parse(text) as { result: T } & WireError;
        if (status === 200) resolve(v.result);
        else reject(unwire(v));
      } catch {
        reject(new Error(`bad answer (status ${status})`));
      }
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
