/**
 * The Engine API of a shoal node on a unix socket: shoal's own endpoints (app.ts), and everything
 * else proxied to the runtime engine, including hijacked connections (attach, exec).
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import path from 'node:path';
import { ShoalError } from '../common/errors.js';
import { EngineClient } from '../common/http-client.js';
import type { Logger } from '../common/logging.js';
import type { ClusterApi } from '../manager/controlapi/methods.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import { createApiApp } from './app.js';
import { writeError } from './errors.js';
import { EngineProxy } from './proxy.js';
import { readJsonBody } from './router.js';

export { SHOAL_MAX_API, SHOAL_VERSION } from './app.js';

export interface ApiServerOptions {
  node: NodeApi;
  cluster: ClusterApi;
  runtimeUrl: string;
  logger: Logger;
}

export interface ApiServer {
  listen(socketPath: string): Promise<void>;
  close(): Promise<void>;
}

export function createApiServer(o: ApiServerOptions): ApiServer {
  const engine = new EngineClient(o.runtimeUrl);
  const proxy = new EngineProxy(o.runtimeUrl, o.logger);
  const app = createApiApp({ node: o.node, cluster: o.cluster, engine: { json: (p, opts) => engine.json(p, { ...opts, timeoutMs: 5000 }) } });

  const server = http.createServer((req, res) => {
    app
      .handle({ method: req.method ?? 'GET', url: req.url ?? '/', body: () => readJsonBody(req) }, res)
      .then((answered) => {
        if (!answered) proxy.forward(req, res);
      })
      .catch((e: unknown) => {
        if (!(e instanceof ShoalError)) o.logger.warn('request failed', { method: req.method, url: req.url, error: String(e) });
        writeError(res, e);
      });
  });
  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    try {
      proxy.upgrade(req, socket, head);
    } catch (e) {
      o.logger.warn('hijacked connection failed', { url: req.url, error: String(e) });
      socket.destroy();
    }
  });
  // Long-lived streams (events, logs -f, attach) must not be cut by Node's default timeouts.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;

  return {
    async listen(socketPath: string): Promise<void> {
      await mkdir(path.dirname(socketPath), { recursive: true });
      await rm(socketPath, { force: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => resolve());
      });
      await chmod(socketPath, 0o660);
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
