/**
 * Calls to other nodes' cluster ports: mutual TLS with this node's certificate, the root CA as the
 * only trust anchor, and the server required to be a manager (OU in its certificate). One HTTP/2
 * connection per address, reused by every call and stream to it.
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import { ShoalError, errorMessage, type ErrorCode } from '../common/errors.js';
import { keepAlive } from './liveness.js';
import type { NodeTls } from './node-tls.js';
import { secureOptions, type WireError } from './port.js';
import { splitHostPort } from '../common/host-port.js';
import { roleOfOu } from '../common/node-role.js';

const CALL_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Why a server's certificate is not the manager this node meant to reach (undefined when it is):
 * it must carry the manager role (workers do not serve the cluster port), and the expected node ID
 * when the caller knows which node it dialled.
 */
export function peerIdentityProblem(cert: tls.PeerCertificate, expected: string | undefined): Error | undefined {
  const subject = cert.subject as Record<string, string | string[]> | undefined;
  if (roleOfOu(subject?.OU) !== 'manager') return new Error('the remote node is not a swarm manager');
  const cn = Array.isArray(subject?.CN) ? subject.CN[0] : subject?.CN;
  if (expected !== undefined && cn !== expected)
    return new Error(`the remote node is ${String(cn)}, not the manager ${expected} this address belongs to`);
  return undefined;
}

/** A manager that could not be reached at all (as opposed to one that answered with an error). */
export class ManagerUnreachableError extends ShoalError {
  constructor(
    readonly addr: string,
    cause: unknown,
  ) {
    super('unavailable', `manager ${addr} unreachable: ${errorMessage(cause)}`);
  }
}

export function unwire(w: WireError): ShoalError {
  return new ShoalError(w.code, w.message);
}

export class ClusterClient {
  private sessions = new Map<string, http2.ClientHttp2Session>();

  /**
   * `nodeAt` names the manager an address belongs to, when this node knows it (its managers list);
   * a server at that address must then hold that node's certificate.
   */
  constructor(
    private readonly tls: () => NodeTls | undefined,
    private readonly nodeAt: (addr: string) => string | undefined = () => undefined,
  ) {}

  /** A unary call; the remote's ShoalError comes back as the same ShoalError. */
  async call<T>(
    addr: string,
    path: string,
    body: unknown,
    timeoutMs = CALL_TIMEOUT_MS,
    signal?: AbortSignal,
  ): Promise<T> {
    const req = this.request(addr, path, body);
    const cancel = (): void => req.close(http2.constants.NGHTTP2_CANCEL);
    const timer = setTimeout(cancel, timeoutMs);
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      const { status, text } = await readAll(req);
      const parsed = parse(text);
      if (status !== 200) throw unwire(asWireError(parsed, status));
      return (parsed as { result: T }).result;
    } catch (e) {
      if (e instanceof ShoalError) throw e;
      throw new ManagerUnreachableError(addr, e);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
    }
  }

  /**
   * A server stream of JSON messages, each handed to `onMessage`; resolves when the server ends it,
   * rejects with the server's error or when the connection fails. `signal` cancels it.
   */
  stream(
    addr: string,
    path: string,
    body: unknown,
    onMessage: (m: unknown) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let req: http2.ClientHttp2Stream;
      try {
        req = this.request(addr, path, body);
      } catch (e) {
        reject(new ManagerUnreachableError(addr, e));
        return;
      }
      const abort = (): void => {
        req.close(http2.constants.NGHTTP2_CANCEL);
      };
      signal?.addEventListener('abort', abort, { once: true });
      let status = 0;
      let buf = '';
      let failed: ShoalError | undefined;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        buf += chunk;
        if (status !== 200) return;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const m = parse(line) as { error?: WireError } | null;
          if (m && typeof m === 'object' && 'error' in m && m.error) failed = unwire(m.error);
          else if (m !== null) {
            // A consumer that is not ready returns a promise: read nothing more until it resolves
            // (HTTP/2 flow control then slows the sender down).
            const ready = onMessage(m);
            if (ready) {
              req.pause();
              void ready.finally(() => req.resume());
            }
          }
        }
      });
      req.on('close', () => {
        signal?.removeEventListener('abort', abort);
        if (status !== 200 && status !== 0) return reject(unwire(asWireError(parse(buf), status)));
        if (failed) return reject(failed);
        if (status === 0 || req.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
          return reject(new ShoalError('unavailable', `stream from manager ${addr} broke`));
        }
        resolve();
      });
      req.on('error', () => undefined);
    });
  }

  /** Drops every connection (new certificates, leaving the swarm). */
  closeAll(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }

  private request(addr: string, path: string, body: unknown): http2.ClientHttp2Stream {
    const req = this.session(addr).request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' });
    req.end(JSON.stringify(body ?? null));
    return req;
  }

  private session(addr: string): http2.ClientHttp2Session {
    const cur = this.sessions.get(addr);
    if (cur && !cur.closed && !cur.destroyed) return cur;
    const t = this.tls();
    if (!t) throw new Error('this node has no certificate');
    const { host, port } = splitHostPort(addr, 2377);
    const s = http2.connect(`https://${addr}`, {
      settings: { initialWindowSize: 4 * 1024 * 1024 },
      createConnection: () => {
        const sock = tls.connect({
          host,
          port,
          ...secureOptions(t),
          ALPNProtocols: ['h2'],
          checkServerIdentity: (_h, cert) => peerIdentityProblem(cert, this.nodeAt(addr)),
          servername: undefined,
        });
        sock.setTimeout(CONNECT_TIMEOUT_MS, () => {
          if (sock.connecting || !sock.authorized) sock.destroy(new Error('connect timeout'));
        });
        // A handshake failure (e.g. a certificate of another CA) must not become an uncaught error;
        // the session sees the socket close and its calls fail.
        sock.on('error', () => undefined);
        sock.once('secureConnect', () => sock.setTimeout(0));
        // Detects a dead peer (a cut link) on an idle connection.
        sock.setKeepAlive(true, 1000);
        return sock;
      },
    });
    s.on('error', () => undefined);
    keepAlive(s);
    s.on('close', () => {
      if (this.sessions.get(addr) === s) this.sessions.delete(addr);
    });
    s.unref();
    this.sessions.set(addr, s);
    return s;
  }
}

function readAll(req: http2.ClientHttp2Stream): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let text = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => resolve({ status, text }));
    req.on('error', reject);
    req.on('close', () => {
      if (status === 0)
        reject(new Error(req.rstCode === http2.constants.NGHTTP2_CANCEL ? 'timed out' : 'connection closed'));
    });
  });
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function asWireError(v: unknown, status: number): WireError {
  const w = v as Partial<WireError> | null;
  const code: ErrorCode = w?.code ?? 'unknown';
  return { code, message: w?.message ?? `cluster call failed with status ${status}` };
}
