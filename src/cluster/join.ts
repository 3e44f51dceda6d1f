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
    if (!serverCert || !new X509Certificate(serverCert).verify(new X509Certificate(ca).publicKey)) {
      throw new ShoalError('invalid_argument', `the node at ${remote} does not hold a certificate of the swarm the token names`);
    }
    const a = await post<JoinAnswer>(session, '/ca/join', { ...o, csr: csrPem } satisfies JoinCall);
    return { nodeId: a.nodeId, clusterId: a.clusterId, role: a.role, managers: a.managers, tls: { key: keyPem, cert: a.cert, ca: a.ca } };
  } catch (e) {
    if (e instanceof ShoalError) throw e;
    throw new ShoalError('unavailable', `could not join the swarm at ${remote}: ${errorMessage(e)}`);
  } finally {
    clearTimeout(timer);
    session.destroy();
  }
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

/** Which role a join token grants, or undefined if it is not one of the cluster's current tokens. */
export function roleOfToken(token: string, current: { Worker: string; Manager: string }): 'manager' | 'worker' | undefined {
  const t = token.trim();
  if (t === current.Manager) return 'manager';
  if (t === current.Worker) return 'worker';
  return undefined;
}
