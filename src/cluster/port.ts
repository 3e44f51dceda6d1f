/**
 * The cluster port (2377): the one listener other nodes talk to. TLS with the node certificate;
 * client certificates are requested and checked against the root CA, but not required, because a
 * joining node has none yet. After the handshake, ALPN picks the protocol: `shoal-raft` is a raw
 * stream of Raft frames between managers, `h2` carries JSON calls and streams (join, dispatcher,
 * forwarded control-API calls). Each route says who may call it; the caller's node ID and role come
 * from its certificate (CN and OU), never from the request.
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import { ShoalError, errorMessage, type ErrorCode } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import { keepAlive } from './liveness.js';
import type { NodeTls } from './node-tls.js';
import { roleOfOu, type NodeRole } from '../common/node-role.js';

export type PeerRole = NodeRole;

/** Who is calling, as its certificate says. */
export interface Peer {
  readonly nodeId: string;
  readonly role: PeerRole;
  readonly clusterId: string;
}

/** `anyone`: no certificate needed (join); `node`: any node of the cluster; `manager`: managers only. */
export type Access = 'anyone' | 'node' | 'manager';

export interface CallContext {
  readonly peer: Peer | undefined;
  /** Aborted when the caller goes away (streams end then). */
  readonly signal: AbortSignal;
}

export type CallHandler = (body: unknown, ctx: CallContext) => Promise<unknown>;
/** Sends messages until it resolves; `send` returns false once the caller is gone. */
export type StreamHandler = (body: unknown, ctx: CallContext, send: (msg: unknown) => boolean) => Promise<void>;

export interface ClusterPortOptions {
  host: string;
  port: number;
  tls: NodeTls;
  logger: Logger;
  /** Refuses a certified caller that is no longer a member (a removed node); returns the reason. */
  refuse?: (peer: Peer) => string | undefined;
}

export const RAFT_ALPN = 'shoal-raft';
/** Wire error body: the ShoalError code and message, so the caller can rethrow the same error. */
export interface WireError {
  code: ErrorCode;
  message: string;
}

const MAX_BODY = 64 * 1024 * 1024;


/** The identity in a verified peer certificate, or undefined without one. */
export function peerOf(socket: tls.TLSSocket): Peer | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  const subject = cert?.subject as Record<string, string | string[]> | undefined;
  if (!subject) return undefined;
  const one = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));
  const role: PeerRole | undefined = roleOfOu(subject.OU);
  const nodeId = one(subject.CN);
  if (!role || !nodeId) return undefined;
  return { nodeId, role, clusterId: one(subject.O) };
}

export class ClusterPort {
  private readonly calls = new Map<string, { access: Access; handler: CallHandler }>();
  private readonly streams = new Map<string, { access: Access; handler: StreamHandler }>();
  private raftHandler: ((socket: tls.TLSSocket, peer: Peer) => void) | undefined;
  private readonly h2 = http2.createServer({ settings: { initialWindowSize: 4 * 1024 * 1024 } });
  private readonly server: tls.Server;
  private readonly sockets = new Set<tls.TLSSocket>();

  constructor(private readonly o: ClusterPortOptions) {
    this.server = tls.createServer(
      { ...secureOptions(o.tls), ALPNProtocols: ['h2', RAFT_ALPN], requestCert: true, rejectUnauthorized: false },
      (socket) => this.accept(socket),
    );
    this.server.on('tlsClientError', () => undefined);
    this.h2.on('stream', (stream, headers) => {
      stream.on('error', () => undefined); // the caller went away or its connection failed
      this.serve(stream, headers).catch((e: unknown) => {
        this.o.logger.warn('cluster port: request failed', { path: headers[':path'], error: errorMessage(e) });
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      });
    });
    this.h2.on('sessionError', () => undefined);
    this.h2.on('session', (session) => {
      session.on('error', () => undefined);
      // A node that dies or is cut off must not leave its streams (its dispatcher session, log
      // requests sent down it) hanging.
      keepAlive(session);
    });
  }

  call(path: string, access: Access, handler: CallHandler): void {
    this.calls.set(path, { access, handler });
  }

  stream(path: string, access: Access, handler: StreamHandler): void {
    this.streams.set(path, { access, handler });
  }

  /** Raft connections from other managers (already checked: a manager of this cluster). */
  onRaft(handler: (socket: tls.TLSSocket, peer: Peer) => void): void {
    this.raftHandler = handler;
  }

  /** New certificates (renewal, role change): new connections use them. */
  setTls(t: NodeTls): void {
    this.server.setSecureContext(secureOptions(t));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Where it listens (the port chosen when 0 was asked for). */
  address(): { port: number } {
    const a = this.server.address();
    return { port: a && typeof a === 'object' ? a.port : 0 };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: tls.TLSSocket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (socket.alpnProtocol === RAFT_ALPN) {
      const peer = peerOf(socket);
      const refusal = peer ? (peer.role !== 'manager' ? 'not a manager' : this.o.refuse?.(peer)) : 'no valid certificate';
      if (!peer || refusal || !this.raftHandler) {
        this.o.logger.warn('cluster port: raft connection refused', { reason: refusal ?? 'raft not running', remote: socket.remoteAddress });
        socket.destroy();
        return;
      }
      this.raftHandler(socket, peer);
      return;
    }
    this.h2.emit('connection', socket);
  }

  private async serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    const path = String(headers[':path'] ?? '');
    const call = this.calls.get(path);
    const streamRoute = this.streams.get(path);
    const route = call ?? streamRoute;
    const fail = (e: unknown): void => {
      const se = e instanceof ShoalError ? e : new ShoalError('unknown', errorMessage(e));
      const body: WireError = { code: se.code, message: se.message };
      if (stream.destroyed) return;
      if (!stream.headersSent) stream.respond({ ':status': 500, 'content-type': 'application/json' });
      stream.end(JSON.stringify(body));
    };
    if (!route || headers[':method'] !== 'POST') return fail(new ShoalError('not_found', `no cluster route ${path}`));
    const peer = peerOf(stream.session!.socket as tls.TLSSocket);
    if (route.access !== 'anyone') {
      if (!peer) return fail(new ShoalError('permission_denied', 'a node certificate issued by this swarm is required'));
      if (route.access === 'manager' && peer.role !== 'manager') return fail(new ShoalError('permission_denied', `${path} is only available to managers`));
      const refusal = this.o.refuse?.(peer);
      if (refusal) return fail(new ShoalError('permission_denied', refusal));
    }
    let body: unknown;
    try {
      body = await readBody(stream);
    } catch (e) {
      return fail(new ShoalError('invalid_argument', errorMessage(e)));
    }
    const ac = new AbortController();
    stream.on('close', () => ac.abort());
    const ctx: CallContext = { peer, signal: ac.signal };
    if (call) {
      try {
        const result = await call.handler(body, ctx);
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ result: result ?? null }));
      } catch (e) {
        fail(e);
      }
      return;
    }
    const handler = streamRoute!.handler;
    let started = false;
    const send = (msg: unknown): boolean => {
      if (stream.destroyed || stream.closed) return false;
      if (!started) {
        started = true;
        stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
      }
      stream.write(`${JSON.stringify(msg)}\n`);
      return true;
    };
    try {
      await handler(body, ctx, send);
      if (!started) send(null);
      if (!stream.destroyed) stream.end();
    } catch (e) {
      if (!started) fail(e);
      else if (!stream.destroyed) stream.end(`${JSON.stringify({ error: wireError(e) })}\n`);
    }
  }
}

export function wireError(e: unknown): WireError {
  return e instanceof ShoalError ? { code: e.code, message: e.message } : { code: 'unknown', message: errorMessage(e) };
}

export function secureOptions(t: NodeTls): tls.SecureContextOptions {
  return { key: t.key, cert: t.cert, ca: [t.ca], minVersion: 'TLSv1.2' };
}

function readBody(stream: http2.ServerHttp2Stream): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        stream.destroy();
        return;
      }
      chunks.push(c);
    });
    stream.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch {
        reject(new Error('request body is not JSON'));
      }
    });
    stream.on('error', reject);
  });
}
