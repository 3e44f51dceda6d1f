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
import { z } from 'zod';
import { ShoalError, errorMessage, httpStatus, type ErrorCode } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import { keepAlive } from './liveness.js';
import { MAX_JSON_DEPTH, schemaProblem, withinDepth } from './messages.js';
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
  /** The caller's address as this end of the connection sees it (never what the caller says). */
  readonly remoteAddr: string;
  /** Aborted when the caller goes away (streams end then). */
  readonly signal: AbortSignal;
  /** Resolves once what a stream handler sent has been taken by the caller (HTTP/2 flow control). */
  drained(): Promise<void>;
}

export type CallHandler<B> = (body: B, ctx: CallContext) => Promise<unknown>;
/** Sends messages until it resolves; `send` returns false once the caller is gone. */
export type StreamHandler<B> = (body: B, ctx: CallContext, send: (msg: unknown) => boolean) => Promise<void>;

export interface RouteOptions {
  /** The largest body this route reads (bytes); the default depends on who may call it. */
  maxBody?: number;
}

interface Route {
  access: Access;
  schema: z.ZodType;
  maxBody: number;
  call?: CallHandler<unknown>;
  stream?: StreamHandler<unknown>;
}

export interface ClusterPortOptions {
  host: string;
  port: number;
  tls: NodeTls;
  logger: Logger;
  /**
   * Refuses a certified caller the store no longer backs: a removed node, or, for a manager-only
   * route, a node that is no longer a manager (its old certificate lives on); returns the reason.
   */
  refuse?: (peer: Peer, access: Access) => string | undefined;
}

export const RAFT_ALPN = 'shoal-raft';
/** Wire error body: the ShoalError code and message, so the caller can rethrow the same error. */
export interface WireError {
  code: ErrorCode;
  message: string;
}

/** Body limits: routes open to anyone (joining) read little; nodes' calls more. */
const MAX_OPEN_BODY = 64 * 1024;
const MAX_NODE_BODY = 1024 * 1024;
/** HTTP/2 flow-control window per stream towards this port (window updates keep large bodies flowing). */
const STREAM_WINDOW = 256 * 1024;
/** Concurrent streams per HTTP/2 session: a node's session, heartbeats, status, logs; a joiner needs two. */
const MAX_STREAMS = 128;
const MAX_STREAMS_WITHOUT_CERT = 4;
/** Sessions at once (all callers), and those without a certificate from one address. */
const MAX_SESSIONS = 2048;
const MAX_OPEN_SESSIONS_PER_ADDR = 8;
/** A caller without a certificate (a joiner) has this long for its two calls. */
const OPEN_SESSION_TIMEOUT_MS = 30_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;

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
  private readonly routes = new Map<string, Route>();
  private raftHandler: ((socket: tls.TLSSocket, peer: Peer) => void) | undefined;
  private readonly h2 = http2.createServer({
    // What a caller may send on a stream before this end has read it: bounded, so a refused body
    // (or many at once) is not decrypted and parsed in full on the event loop that ticks Raft.
    settings: { initialWindowSize: STREAM_WINDOW, maxConcurrentStreams: MAX_STREAMS },
  });
  private sessions = 0;
  /** Open streams by the caller's node ID, so a demotion or removal can end them at once. */
  private readonly active = new Map<string, Set<{ stream: http2.ServerHttp2Stream; access: Access }>>();
  private readonly openSessions = new Map<string, number>();
  private readonly server: tls.Server;
  private readonly sockets = new Set<tls.TLSSocket>();

  constructor(private readonly o: ClusterPortOptions) {
    this.server = tls.createServer(
      {
        ...secureOptions(o.tls),
        ALPNProtocols: ['h2', RAFT_ALPN],
        requestCert: true,
        rejectUnauthorized: false,
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      },
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
      this.sessions++;
      session.once('close', () => this.sessions--);
      const socket = session.socket as tls.TLSSocket;
      if (!peerOf(socket)) {
        // A caller without a certificate may only join: few streams, a short life, few per address.
        const addr = socket.remoteAddress ?? '';
        const open = (this.openSessions.get(addr) ?? 0) + 1;
        this.openSessions.set(addr, open);
        session.once('close', () => {
          const n = (this.openSessions.get(addr) ?? 1) - 1;
          if (n > 0) this.openSessions.set(addr, n);
          else this.openSessions.delete(addr);
        });
        if (open > MAX_OPEN_SESSIONS_PER_ADDR || this.sessions > MAX_SESSIONS) {
          session.destroy();
          return;
        }
        session.settings({ maxConcurrentStreams: MAX_STREAMS_WITHOUT_CERT });
        session.setTimeout(OPEN_SESSION_TIMEOUT_MS, () => session.destroy());
        return;
      }
      if (this.sessions > MAX_SESSIONS) {
        session.destroy();
        return;
      }
      // A node that dies or is cut off must not leave its streams (its dispatcher session, log
      // requests sent down it) hanging.
      keepAlive(session);
    });
  }

  /** A unary route: the body must match `schema`; the handler's result is the answer. */
  call<S extends z.ZodType>(
    path: string,
    access: Access,
    schema: S,
    handler: CallHandler<z.output<S>>,
    opts: RouteOptions = {},
  ): void {
    this.routes.set(path, { access, schema, maxBody: maxBodyFor(access, opts), call: handler as CallHandler<unknown> });
  }

  /** A server-streaming route. */
  stream<S extends z.ZodType>(
    path: string,
    access: Access,
    schema: S,
    handler: StreamHandler<z.output<S>>,
    opts: RouteOptions = {},
  ): void {
    this.routes.set(path, {
      access,
      schema,
      maxBody: maxBodyFor(access, opts),
      stream: handler as StreamHandler<unknown>,
    });
  }

  /** Raft connections from other managers (already checked: a manager of this cluster). */
  onRaft(handler: (socket: tls.TLSSocket, peer: Peer) => void): void {
    this.raftHandler = handler;
  }

  /**
   * A node lost powers: its open streams on manager-only routes end (`manager`), or every stream
   * and connection of it (`all`, a removed node).
   */
  revoke(nodeId: string, scope: 'manager' | 'all'): void {
    for (const a of this.active.get(nodeId) ?? []) {
      if (scope === 'all' || a.access === 'manager') a.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    }
    if (scope === 'all') {
      for (const s of this.sockets) if (peerOf(s)?.nodeId === nodeId) s.destroy();
    }
  }

  private track(nodeId: string, stream: http2.ServerHttp2Stream, access: Access): void {
    const set = this.active.get(nodeId) ?? new Set();
    this.active.set(nodeId, set);
    const entry = { stream, access };
    set.add(entry);
    stream.once('close', () => {
      set.delete(entry);
      if (set.size === 0) this.active.delete(nodeId);
    });
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
      const refusal = peer
        ? peer.role !== 'manager'
          ? 'not a manager'
          : this.o.refuse?.(peer, 'node')
        : 'no valid certificate';
      if (!peer || refusal || !this.raftHandler) {
        this.o.logger.warn('cluster port: raft connection refused', {
          reason: refusal ?? 'raft not running',
          remote: socket.remoteAddress,
        });
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
    const route = this.routes.get(path);
    const fail = (e: unknown): void => {
      const se = e instanceof ShoalError ? e : new ShoalError('unknown', errorMessage(e));
      const body: WireError = { code: se.code, message: se.message };
      if (stream.destroyed) return;
      if (!stream.headersSent) stream.respond({ ':status': httpStatus(se.code), 'content-type': 'application/json' });
      // The answer is complete: the caller is told to stop sending the rest of its body (RFC 9113
      // §8.1, RST_STREAM with NO_ERROR), instead of this end reading it only to throw it away.
      stream.end(JSON.stringify(body), () => {
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
      });
    };
    if (!route || headers[':method'] !== 'POST') return fail(new ShoalError('not_found', `no cluster route ${path}`));
    const peer = peerOf(stream.session!.socket as tls.TLSSocket);
    if (route.access !== 'anyone') {
      if (!peer)
        return fail(new ShoalError('permission_denied', 'a node certificate issued by this swarm is required'));
      if (route.access === 'manager' && peer.role !== 'manager')
        return fail(new ShoalError('permission_denied', `${path} is only available to managers`));
      const refusal = this.o.refuse?.(peer, route.access);
      if (refusal) return fail(new ShoalError('permission_denied', refusal));
      this.track(peer.nodeId, stream, route.access);
    }
    let body: unknown;
    try {
      body = route.schema.parse(await readBody(stream, route.maxBody));
    } catch (e) {
      return fail(
        new ShoalError(
          'invalid_argument',
          e instanceof z.ZodError ? `invalid ${path} message: ${schemaProblem(e)}` : errorMessage(e),
        ),
      );
    }
    const ac = new AbortController();
    stream.on('close', () => ac.abort());
    const drained = (): Promise<void> =>
      !stream.writableNeedDrain || stream.destroyed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const done = (): void => {
              stream.off('drain', done);
              stream.off('close', done);
              resolve();
            };
            stream.once('drain', done);
            stream.once('close', done);
          });
    const ctx: CallContext = {
      peer,
      remoteAddr: stream.session?.socket.remoteAddress ?? '',
      signal: ac.signal,
      drained,
    };
    if (route.call) {
      try {
        const result = await route.call(body, ctx);
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ result: result ?? null }));
      } catch (e) {
        fail(e);
      }
      return;
    }
    const handler = route.stream!;
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

function maxBodyFor(access: Access, o: RouteOptions): number {
  return o.maxBody ?? (access === 'anyone' ? MAX_OPEN_BODY : MAX_NODE_BODY);
}

/** Reads a JSON body of at most `max` bytes and at most MAX_JSON_DEPTH levels. */
function readBody(stream: http2.ServerHttp2Stream, max: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    stream.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > max) {
        failed = true;
        reject(new Error(`request body larger than ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    stream.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      let v: unknown;
      try {
        v = text ? JSON.parse(text) : undefined;
      } catch {
        reject(new Error('request body is not JSON'));
        return;
      }
      if (!withinDepth(v)) reject(new Error(`request body nests deeper than ${MAX_JSON_DEPTH} levels`));
      else resolve(v);
    });
    stream.on('error', reject);
  });
}
