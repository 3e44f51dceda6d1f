/**
 * The Engine API of a shoal node on a unix socket: shoal's own endpoints (app.ts), and everything
 * else proxied to the runtime engine, including hijacked connections (attach, exec).
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { ShoalError } from '../common/errors.js';
import { EngineClient } from '../common/http-client.js';
import type { Logger } from '../common/logging.js';
import type { ClusterApi } from '../manager/controlapi/methods.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import { createApiApp } from './app.js';
import { writeError } from './errors.js';
import { EngineProxy } from './proxy.js';
import { releaseOnDestroy, type LocalAttachments } from './routes-containers.js';
import { normalizeRequestPath, mayUpgrade, SWARM_PATHS } from './request-path.js';
import { readJsonBody, splitVersion } from './router.js';

export { SHOAL_MAX_API, SHOAL_VERSION } from './app.js';

/** Connections at once on the API socket (the docker CLI opens a handful; `docker events` one each). */
const MAX_CONNECTIONS = 1024;

export interface ApiServerOptions {
  node: NodeApi;
  cluster: ClusterApi;
  runtimeUrl: string;
  logger: Logger;
  /** This node's side of attachable overlays (`docker run --network` on a swarm overlay). */
  attachments?: LocalAttachments;
}

export interface ApiServer {
  listen(socketPath: string): Promise<void>;
  close(): Promise<void>;
}

export function createApiServer(o: ApiServerOptions): ApiServer {
  const engine = new EngineClient(o.runtimeUrl);
  const proxy = new EngineProxy(o.runtimeUrl, o.logger);
  const app = createApiApp({
    node: o.node,
    cluster: o.cluster,
    engine: {
      json: (p, opts) => engine.json(p, { ...opts, timeoutMs: 5000 }),
      lines: (p, signal) => engineLines(engine, p, signal),
    },
    ...(o.attachments ? { attachments: o.attachments } : {}),
  });
  const stopReleasing = new AbortController();
  if (o.attachments) {
    void releaseOnDestroy(
      { lines: (p, signal) => engineLines(engine, p, signal) },
      o.attachments,
      stopReleasing.signal,
      (e) => o.logger.warn('releasing network attachments', { error: String(e) }),
    );
  }

  const server = http.createServer((req, res) => {
    app
      .handle({ method: req.method ?? 'GET', url: req.url ?? '/', body: () => readJsonBody(req) }, res)
      .then((h) => {
        if (!h.answered) proxy.forward(req, res, h.url);
      })
      .catch((e: unknown) => {
        if (!(e instanceof ShoalError))
          o.logger.warn('request failed', { method: req.method, url: req.url, error: String(e) });
        writeError(res, e);
      });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      // Only the engine's attach, exec and BuildKit session endpoints may take a connection over.
      const target = normalizeRequestPath(req.url ?? '/');
      const { path: p } = splitVersion(target.path);
      if (!mayUpgrade(p) || SWARM_PATHS.test(p)) {
        socket.end(
          `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ message: `${p} does not take over connections` })}\n`,
        );
        return;
      }
      proxy.upgrade(req, socket, head, target.url);
    } catch (e) {
      o.logger.warn('hijacked connection failed', { url: req.url, error: String(e) });
      socket.destroy();
    }
  });
  // Long-lived streams (events, logs -f, attach) must not be cut by Node's default timeouts; a
  // client's request head must arrive in time, and bodies shoal reads have their own deadline.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 200;
  server.maxConnections = MAX_CONNECTIONS;

  return {
    async listen(socketPath: string): Promise<void> {
      await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o755 });
      await rm(socketPath, { force: true });
      // Created with its final mode: no moment where the umask's mode lets others connect.
      const umask = process.umask(0o117);
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(socketPath, () => resolve());
        });
      } finally {
        process.umask(umask);
      }
      await chmod(socketPath, 0o660);
    },
    async close(): Promise<void> {
      stopReleasing.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A streaming engine answer, line by line. */
async function* engineLines(engine: EngineClient, p: string, signal: AbortSignal): AsyncGenerator<string> {
  const res = await engine.stream(p, { signal });
  if ((res.statusCode ?? 0) >= 300) return;
  let buf = '';
  for await (const chunk of res) {
    buf += String(chunk);
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield line;
    }
  }
}
