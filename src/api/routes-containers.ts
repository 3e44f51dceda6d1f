/**
 * Plain containers on attachable swarm overlays (`docker run --network NAME`, `docker network
 * connect|disconnect NAME C`). A container create, start or network connect that names a swarm
 * network is answered here: the leader allocates the container's address (swarmkit's network
 * attachment), this node plumbs the overlay, and the request goes to the engine rewritten onto the
 * overlay's Docker network (`shl-…`) with that address and the embedded DNS. Every other container
 * request is the engine's, unchanged.
 */
import { randomBytes } from 'node:crypto';
import { ShoalError } from '../common/errors.js';
import { HttpError } from '../common/http-client.js';
import { hostPart } from '../network/addresses.js';
import { dockerNetworkName } from '../manager/allocator/network-attachments.js';
import type { AttachRequest, AttachResult, DetachRequest } from '../manager/controlapi/network-attachment.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import { writeJson } from './errors.js';
import type { Ctx, Router } from './router.js';

/** The container label listing its attachments, `NETWORKID:ATTACHMENTID,…` (released when it goes). */
export const ATTACHMENT_LABEL = 'io.shoal.attachment';

/** How long a create waits for this node to plumb the overlay after the leader allocated. */
const NETWORK_READY_MS = 20_000;

/**
 * The cluster's side of this node's attachments: the leader allocates and releases the addresses
 * (through the control API on a manager, over the cluster port on a worker).
 */
export interface AttachmentCluster {
  /** The id of the swarm network `ref` names, or undefined when it names none. */
  networkId(ref: string): Promise<string | undefined>;
  attach(req: Omit<AttachRequest, 'NodeID'>): Promise<AttachResult>;
  detach(req: Omit<DetachRequest, 'NodeID'>): Promise<void>;
  /** Whether the cluster holds an attachment of this node for the container. */
  owns(containerId: string): Promise<boolean>;
}

/** What the daemon gives the API of this node's overlays. */
export interface LocalAttachments {
  /** While this node is a member of a swarm; else undefined. */
  cluster(): AttachmentCluster | undefined;
  /** Resolves once this node's attachment `address` (plain) has its overlay plumbed here. */
  whenNetworkReady(networkId: string, address: string, timeoutMs: number): Promise<void>;
  containerStarted(addresses: readonly string[], pid: number): void;
}

interface EngineJson {
  json<T>(path: string, opts?: { method?: string; body?: unknown }): Promise<T>;
}

interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; [k: string]: unknown } | null;
  Aliases?: string[] | null;
  [k: string]: unknown;
}

interface CreateBody {
  Labels?: Record<string, string> | null;
  HostConfig?: { NetworkMode?: string; Dns?: string[] | null; [k: string]: unknown } | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettings | null> | null } | null;
  [k: string]: unknown;
}

interface ContainerJson {
  Id: string;
  State?: { Running?: boolean; Pid?: number };
  Config?: { Labels?: Record<string, string> | null };
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string } | null> | null };
}

const BUILTIN_MODES = /^(default|bridge|host|none|container:.*)$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function attachmentIds(labels: Record<string, string> | null | undefined): { network: string; id: string }[] {
  return (labels?.[ATTACHMENT_LABEL] ?? '')
    .split(',')
    .filter(Boolean)
    .map((x) => {
      const [network = '', id = ''] = x.split(':');
      return { network, id };
    });
}

/** The versioned path of this request at the engine, with its query. */
function enginePath(c: Ctx, p: string): string {
  const q = c.query.toString();
  return `${c.version ? `/v${c.version}` : ''}${p}${q ? `?${q}` : ''}`;
}

/** Docker's wording when the manager refuses an attachment (moby: findAndAttachNetwork). */
function attachError(ref: string, e: unknown): ShoalError {
  const msg = e instanceof Error ? e.message : String(e);
  return new ShoalError('unknown', `Could not attach to network ${ref}: ${msg}`);
}

export function containerRoutes(r: Router, node: NodeApi, engine: EngineJson, local: LocalAttachments): void {
  /** The cluster, when a swarm network could be meant at all. */
  const self = async (): Promise<AttachmentCluster | undefined> => {
    const cluster = local.cluster();
    if (!cluster) return undefined;
    const info = await node.swarmInfo();
    return info.LocalNodeState === 'active' ? cluster : undefined;
  };
  const isSwarmNetwork = async (cluster: AttachmentCluster, ref: string): Promise<boolean> =>
    Boolean(ref) && !BUILTIN_MODES.test(ref) && (await cluster.networkId(ref)) !== undefined;
  const attach = async (
    cluster: AttachmentCluster,
    ref: string,
    settings: EndpointSettings | null | undefined,
    containerId?: string,
  ): Promise<{ result: AttachResult; id: string }> => {
    const id = randomBytes(13).toString('hex');
    let result: AttachResult;
    try {
      result = await cluster.attach({
        Target: ref,
        AttachmentID: id,
        ...(containerId ? { ContainerID: containerId } : {}),
        ...(settings?.IPAMConfig?.IPv4Address ? { Address: settings.IPAMConfig.IPv4Address } : {}),
        ...(settings?.Aliases?.length ? { Aliases: settings.Aliases } : {}),
      });
    } catch (e) {
      throw attachError(ref, e);
    }
    try {
      await local.whenNetworkReady(result.NetworkID, hostPart(result.Address), NETWORK_READY_MS);
    } catch (e) {
      await cluster.detach({ AttachmentIDs: [id] });
      throw attachError(ref, e);
    }
    return { result, id };
  };
  const endpointFor = (settings: EndpointSettings | null | undefined, a: AttachResult): EndpointSettings => ({
    ...(settings ?? {}),
    IPAMConfig: { ...(settings?.IPAMConfig ?? {}), IPv4Address: hostPart(a.Address) },
  });
  /** Its overlay addresses and PID to the agent, for the VIP tables in its namespace. */
  const announceStarted = async (c: Ctx, idOrName: string): Promise<void> => {
    const ct = await engine.json<ContainerJson>(
      enginePath({ ...c, query: new URLSearchParams() }, `/containers/${encodeURIComponent(idOrName)}/json`),
    );
    const pid = ct.State?.Pid ?? 0;
    if (!ct.State?.Running || pid <= 0) return;
    const ips = Object.entries(ct.NetworkSettings?.Networks ?? {})
      .filter(([name, n]) => name.startsWith('shl-') && n?.IPAddress)
      .map(([, n]) => n!.IPAddress!);
    if (ips.length) local.containerStarted(ips, pid);
  };

  r.on('POST', '/containers/create', async (c) => {
    const cluster = await self();
    if (!cluster) return false;
    const raw = await c.raw();
    if (!isObject(raw)) throw new ShoalError('invalid_argument', 'invalid JSON: the body must be an object');
    const body = raw as CreateBody;
    const mode = body.HostConfig?.NetworkMode ?? '';
    const endpoints = body.NetworkingConfig?.EndpointsConfig ?? {};
    const ref = (await isSwarmNetwork(cluster, mode))
      ? mode
      : (
          await Promise.all(Object.keys(endpoints).map(async (k) => ((await isSwarmNetwork(cluster, k)) ? k : '')))
        ).find(Boolean);
    if (ref) {
      const { result, id } = await attach(cluster, ref, endpoints[ref]);
      const dockerName = dockerNetworkName(result.NetworkID);
      const rest = Object.fromEntries(Object.entries(endpoints).filter(([k]) => k !== ref));
      const dns = body.HostConfig?.Dns?.length ? body.HostConfig.Dns : [result.Gateway];
      const rewritten: CreateBody = {
        ...body,
        Labels: { ...(body.Labels ?? {}), [ATTACHMENT_LABEL]: `${result.NetworkID}:${id}` },
        HostConfig: {
          ...(body.HostConfig ?? {}),
          ...(mode === ref || !mode || mode === 'default' ? { NetworkMode: dockerName } : {}),
          Dns: dns,
        },
        NetworkingConfig: { EndpointsConfig: { ...rest, [dockerName]: endpointFor(endpoints[ref], result) } },
      };
      try {
        writeJson(
          c.res,
          201,
          await engine.json(enginePath(c, '/containers/create'), { method: 'POST', body: rewritten }),
        );
      } catch (e) {
        await cluster.detach({ AttachmentIDs: [id] });
        throw e;
      }
      return;
    }
    // No swarm network: the engine's request, with the body already read here.
    writeJson(c.res, 201, await engine.json(enginePath(c, '/containers/create'), { method: 'POST', body }));
  });

  r.on('POST', '/containers/{id}/start', async (c) => {
    if (!(await self())) return false;
    const ct = await engine.json<ContainerJson>(`/containers/${encodeURIComponent(c.params.id!)}/json`);
    const onOverlay = Object.keys(ct.NetworkSettings?.Networks ?? {}).some((n) => n.startsWith('shl-'));
    if (!onOverlay || attachmentIds(ct.Config?.Labels).length === 0) return false;
    try {
      await engine.json(enginePath(c, `/containers/${encodeURIComponent(c.params.id!)}/start`), { method: 'POST' });
    } catch (e) {
      if (e instanceof HttpError && e.status === 304) {
        c.res.writeHead(304).end();
        return;
      }
      throw e;
    }
    await announceStarted(c, ct.Id);
    c.res.writeHead(204).end();
  });

  /** A `network connect|disconnect` body and the container it names, as the engine knows it. */
  const namedContainer = async (c: Ctx): Promise<{ req: Record<string, unknown>; ct: ContainerJson }> => {
    const req = await c.raw();
    if (!isObject(req) || typeof req.Container !== 'string')
      throw new ShoalError('invalid_argument', 'invalid JSON: Container is required');
    return { req, ct: await engine.json<ContainerJson>(`/containers/${encodeURIComponent(req.Container)}/json`) };
  };

  r.on('POST', '/networks/{id}/connect', async (c) => {
    const cluster = await self();
    const ref = c.params.id!;
    if (!cluster || !(await isSwarmNetwork(cluster, ref))) return false;
    const { req, ct } = await namedContainer(c);
    const settings = isObject(req.EndpointConfig) ? (req.EndpointConfig as EndpointSettings) : undefined;
    const { result, id } = await attach(cluster, ref, settings, ct.Id);
    try {
      await engine.json(enginePath(c, `/networks/${dockerNetworkName(result.NetworkID)}/connect`), {
        method: 'POST',
        body: { Container: ct.Id, EndpointConfig: endpointFor(settings, result) },
      });
    } catch (e) {
      await cluster.detach({ AttachmentIDs: [id] });
      throw e;
    }
    await announceStarted(c, ct.Id);
    c.res.writeHead(200).end();
  });

  r.on('POST', '/networks/{id}/disconnect', async (c) => {
    const cluster = await self();
    const ref = c.params.id!;
    const networkId = cluster && ref && !BUILTIN_MODES.test(ref) ? await cluster.networkId(ref) : undefined;
    if (!cluster || !networkId) return false;
    const { req, ct } = await namedContainer(c);
    await engine.json(enginePath(c, `/networks/${dockerNetworkName(networkId)}/disconnect`), {
      method: 'POST',
      body: { Container: ct.Id, Force: Boolean(req.Force) },
    });
    const fromLabel = attachmentIds(ct.Config?.Labels)
      .filter((a) => a.network === networkId)
      .map((a) => a.id);
    await cluster.detach({ AttachmentIDs: fromLabel, ContainerID: ct.Id, NetworkID: networkId });
    c.res.writeHead(200).end();
  });
}

/**
 * Releases the attachments of containers the engine destroyed (`docker run --rm`, `docker rm`): the
 * engine's event stream, for as long as `signal` lives.
 */
export async function releaseOnDestroy(
  engine: { lines(path: string, signal: AbortSignal): AsyncIterable<string> },
  local: LocalAttachments,
  signal: AbortSignal,
  onError: (e: unknown) => void,
): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ type: ['container'], event: ['destroy'] }));
  while (!signal.aborted) {
    try {
      for await (const line of engine.lines(`/events?filters=${filters}`, signal)) {
        const ev = JSON.parse(line) as { Actor?: { ID?: string; Attributes?: Record<string, string> } };
        const cluster = local.cluster();
        const containerId = ev.Actor?.ID;
        if (!cluster || !containerId) continue;
        const ids = attachmentIds(ev.Actor?.Attributes).map((a) => a.id);
        // Most containers have none: only a container that has one costs a write.
        if (ids.length === 0 && !(await cluster.owns(containerId).catch(() => false))) continue;
        await cluster.detach({ AttachmentIDs: ids, ContainerID: containerId }).catch(onError);
      }
    } catch (e) {
      if (!signal.aborted) onError(e);
    }
    if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
  }
}
