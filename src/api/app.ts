/**
 * The Engine API routes shoal answers itself, without the socket: the server (server.ts) hands each
 * request here and proxies to the runtime engine whatever is not answered. Tests call `handle`
 * in-process (testing/in-process.ts).
 */
import { ShoalError } from '../common/errors.js';
import type { ClusterApi } from '../manager/controlapi/methods.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import { writeJson } from './errors.js';
import type { Reply } from './reply.js';

export type { EngineInfo } from './engine-info.js';
import { decodeGo } from './go-json/decode.js';
import type { GoType } from './go-json/go-type.js';
import { normalizeRequestPath, SWARM_PATHS } from './request-path.js';
import { compareVersions, Router, splitVersion, type Ctx } from './router.js';
import { networkRoutes } from './routes-networks.js';
import { nodeRoutes } from './routes-nodes.js';
import type { EngineInfo } from './engine-info.js';
import { eventRoutes } from './routes-events.js';
import { containerRoutes, type LocalAttachments } from './routes-containers.js';
import { payloadRoutes } from './routes-payloads.js';
import { serviceRoutes } from './routes-services.js';
import { swarmRoutes } from './routes-swarm.js';
import { swarmInfoWire } from './wire.js';

/** The highest Engine API version shoal implements. */
export const SHOAL_MAX_API = '1.41';
export const SHOAL_VERSION = '0.1.0';

export interface ApiAppOptions {
  /** This node's own membership operations and log streams. */
  node: NodeApi;
  /** The cluster-level calls (run on the leader). */
  cluster: ClusterApi;
  engine: EngineInfo;
  /** This node's side of attachable overlays; absent: container calls are all proxied. */
  attachments?: LocalAttachments;
}

export interface ApiRequest {
  method: string;
  /** Path and query, as sent (`/v1.41/services?filters=...`). */
  url: string;
  /** The JSON body (read once, on demand). */
  body(): Promise<unknown>;
}

/** Answered here, or to be proxied to the runtime engine at `url` (the normalised path and the query). */
export type Handled = { answered: true } | { answered: false; url: string };

export interface ApiApp {
  /** Answers a request shoal serves, or says where to proxy it. Throws ShoalErrors. */
  handle(req: ApiRequest, res: Reply): Promise<Handled>;
}

export function createApiApp(o: ApiAppOptions): ApiApp {
  let engineApi: string | undefined;

  /** The version we advertise: the lower of ours and the runtime engine's. */
  const apiVersion = async (): Promise<string> => {
    if (!engineApi) {
      try {
        engineApi = (await o.engine.json<{ ApiVersion: string }>('/version')).ApiVersion;
      } catch {
        return SHOAL_MAX_API;
      }
    }
    return compareVersions(engineApi, SHOAL_MAX_API) < 0 ? engineApi : SHOAL_MAX_API;
  };

  const router = new Router();
  router.on('GET', '/_ping', async (c) => {
    const info = await o.node.swarmInfo().catch(() => undefined);
    const swarm =
      !info || info.LocalNodeState === 'inactive'
        ? 'inactive'
        : `${info.LocalNodeState}/${info.ControlAvailable ? 'manager' : 'worker'}`;
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
    c.res.end(c.method === 'HEAD' ? undefined : 'OK');
  });
  router.on('GET', '/version', async (c) => {
    const v = await o.engine.json<Record<string, unknown>>('/version');
    const components = Array.isArray(v.Components) ? (v.Components as unknown[]) : [];
    writeJson(c.res, 200, {
      ...v,
      ApiVersion: await apiVersion(),
      Components: [...components, { Name: 'shoal', Version: SHOAL_VERSION, Details: { ApiVersion: SHOAL_MAX_API } }],
    });
  });
  router.on('GET', '/info', async (c) => {
    const [info, swarm] = await Promise.all([o.engine.json<Record<string, unknown>>('/info'), o.node.swarmInfo()]);
    writeJson(c.res, 200, { ...info, Swarm: swarmInfoWire(swarm) });
  });
  router.on('GET', '/distribution/{name}/json', async () => {
    // No registry is contacted: the CLI only warns that the digest could not be recorded.
    throw new ShoalError('unavailable', 'shoal does not contact image registries; the image digest was not resolved');
  });
  const debugVars = o.node.debugVars?.bind(o.node);
  if (debugVars) router.on('GET', '/debug/vars', async (c) => writeJson(c.res, 200, debugVars()));
  swarmRoutes(router, o.node, o.cluster);
  nodeRoutes(router, o.cluster);
  serviceRoutes(router, o.node, o.cluster);
  eventRoutes(router, o.node, o.engine);
  if (o.attachments) containerRoutes(router, o.node, o.engine, o.attachments);
  networkRoutes(router, o.node, o.cluster, o.engine);
  payloadRoutes(router, o.cluster);

  return {
    async handle(req: ApiRequest, res: Reply): Promise<Handled> {
      const target = normalizeRequestPath(req.url);
      const { version, path: p } = splitVersion(target.path);
      if (version && compareVersions(version, await apiVersion()) > 0) {
        throw new ShoalError(
          'invalid_argument',
          `client version ${version} is too new. Maximum supported API version is ${await apiVersion()}`,
        );
      }
      const m = router.match(req.method, p);
      if (!m) {
        if (SWARM_PATHS.test(p)) throw new ShoalError('not_found', `page not found`);
        return { answered: false, url: target.url };
      }
      let body: unknown;
      const ctx: Ctx = {
        method: req.method,
        res,
        params: m.params,
        query: new URLSearchParams(target.search),
        path: p,
        version,
        json: async <T>(type: GoType) => decodeGo<T>((body ??= await req.body()), type),
        raw: async () => (body ??= await req.body()),
      };
      // A handler answers false when the request turns out to be the runtime engine's (a local network).
      const answered = (await m.handler(ctx)) !== false;
      return answered ? { answered: true } : { answered: false, url: target.url };
    },
  };
}
