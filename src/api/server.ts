/**
 * The Engine API of a shoal node, on a unix socket: shoal's own swarm endpoints, version negotiation
 * capped by the runtime engine's version, and everything else proxied to the runtime engine.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { ShoalError } from '../common/errors.js';
import { EngineClient } from '../common/http-client.js';
import type { Logger } from '../common/logging.js';
import type { ControlApi } from '../manager/controlapi/api.js';
import { writeError, writeJson } from './errors.js';
import { EngineProxy } from './proxy.js';
import { compareVersions, readJsonBody, Router, splitVersion, type Ctx } from './router.js';
import { nodeRoutes } from './routes-nodes.js';
import { serviceRoutes } from './routes-services.js';
import { swarmRoutes } from './routes-swarm.js';
import { swarmInfoWire } from './wire.js';

/** The highest Engine API version shoal implements. */
export const SHOAL_MAX_API = '1.41';
export const SHOAL_VERSION = '0.1.0';

export interface ApiServerOptions {
  control: ControlApi;
  runtimeUrl: string;
  logger: Logger;
}

export interface ApiServer {
  listen(socketPath: string): Promise<void>;
  close(): Promise<void>;
}

/** Paths shoal answers itself; never proxied to the runtime engine. */
const SWARM_PATHS = /^\/(swarm|nodes|services|tasks|secrets|configs)(\/|$)/;

export function createApiServer(o: ApiServerOptions): ApiServer {
  const engine = new EngineClient(o.runtimeUrl);
  const proxy = new EngineProxy(o.runtimeUrl, o.logger);
  let engineApi: string | undefined;

  /** The version we advertise: the lower of ours and the runtime engine's. */
  const apiVersion = async (): Promise<string> => {
    if (!engineApi) {
      try {
        const v = await engine.json<{ ApiVersion: string }>('/version', { timeoutMs: 5000 });
        engineApi = v.ApiVersion;
      } catch {
        return SHOAL_MAX_API;
      }
    }
    return compareVersions(engineApi, SHOAL_MAX_API) < 0 ? engineApi : SHOAL_MAX_API;
  };

  const router = new Router();
  router.on('GET', '/_ping', async (c) => {
    const info = await o.control.swarmInfo().catch(() => undefined);
    const swarm = !info || info.LocalNodeState === 'inactive' ? 'inactive' : `${info.LocalNodeState}/${info.ControlAvailable ? 'manager' : 'worker'}`;
    c.res.writeHead(200, {
      'Api-Version': await apiVersion(),
      Ostype: 'linux',
      'Docker-Experimental': 'false',
      Swarm: swarm,
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Content-Type': 'text/plain; charset=utf-8',
      Server: `shoal/${SHOAL_VERSION}`,
    });
    c.res.end(c.req.method === 'HEAD' ? undefined : 'OK');
  });
  router.on('GET', '/version', async (c) => {
    const v = await engine.json<Record<string, unknown>>('/version');
    const components = Array.isArray(v.Components) ? (v.Components as unknown[]) : [];
    writeJson(c.res, 200, {
      ...v,
      ApiVersion: await apiVersion(),
      Components: [...components, { Name: 'shoal', Version: SHOAL_VERSION, Details: { ApiVersion: SHOAL_MAX_API } }],
    });
  });
  router.on('GET', '/info', async (c) => {
    const [info, swarm] = await Promise.all([engine.json<Record<string, unknown>>('/info'), o.control.swarmInfo()]);
    writeJson(c.res, 200, { ...info, Swarm: swarmInfoWire(swarm) });
  });
  router.on('GET', '/distribution/{name}/json', async () => {
    // No registry is contacted: the CLI only warns that the digest could not be recorded.
    throw new ShoalError('unavailable', 'shoal does not contact image registries; the image digest was not resolved');
  });
  swarmRoutes(router, o.control);
  nodeRoutes(router, o.control);
  serviceRoutes(router, o.control);
  for (const kind of ['secrets', 'configs']) {
    const notYet = async (): Promise<void> => {
      await o.control.swarmInspect();
      throw new ShoalError('unimplemented', `${kind} are not implemented yet in shoal`);
    };
    router.on('GET', `/${kind}`, notYet);
    router.on('GET', `/${kind}/{id}`, notYet);
    router.on('POST', `/${kind}/create`, notYet);
    router.on('POST', `/${kind}/{id}/update`, notYet);
    router.on('DELETE', `/${kind}/{id}`, notYet);
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://shoal');
    const { version, path: p } = splitVersion(url.pathname);
    if (version && compareVersions(version, await apiVersion()) > 0) {
      throw new ShoalError('invalid_argument', `client version ${version} is too new. Maximum supported API version is ${await apiVersion()}`);
    }
    const m = router.match(req.method ?? 'GET', p);
    if (!m) {
      if (SWARM_PATHS.test(p)) throw new ShoalError('not_found', `page not found`);
      proxy.forward(req, res);
      return;
    }
    let body: unknown;
    const ctx: Ctx = {
      req,
      res,
      params: m.params,
      query: url.searchParams,
      path: p,
      version,
      body: async <T>() => (body ??= await readJsonBody<T>(req)) as T,
    };
    await m.handler(ctx);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
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
