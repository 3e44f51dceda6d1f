/**
 * `/networks*`: swarm-scoped overlays come from the store (through the control API), every other
 * network is the runtime engine's. Lists merge both, as a swarm manager's `docker network ls` shows
 * the engine's bridge/host/none beside the overlays; a request for a local network is left to the
 * proxy (or, for a create whose body was already read, relayed to the engine).
 */
import { OVERLAY_LABEL } from '../agent/network/docker-networks.js';
import { ShoalError } from '../common/errors.js';
import type { NetworkCreateRequest } from '../manager/controlapi/network.js';
import type { ClusterApi } from '../manager/controlapi/methods.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import type { NetworkObject } from '../store/types.js';
import { NETWORK_CREATE } from './engine-types.js';
import { writeJson } from './errors.js';
import { labelsMatch, matchAny, parseFilters, type Filters } from './filters.js';
import type { Router } from './router.js';
import { networkWire, type NetworkPeer } from './wire.js';

/** The runtime engine's JSON API (app.ts's EngineInfo), for its local networks. */
interface EngineJson {
  json<T>(path: string, opts?: { method?: string; body?: unknown }): Promise<T>;
}

const NETWORK_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'];

function matches(n: NetworkObject, f: Filters): boolean {
  return (
    matchAny(f, 'driver', (v) => v === 'overlay') &&
    matchAny(f, 'scope', (v) => v === 'swarm') &&
    matchAny(f, 'type', (v) => v === 'custom') &&
    matchAny(f, 'id', (v) => n.ID.startsWith(v)) &&
    matchAny(f, 'name', (v) => n.Spec.Name.includes(v)) &&
    labelsMatch(f, 'label', n.Spec.Labels)
  );
}

export function networkRoutes(r: Router, node: NodeApi, control: ClusterApi, engine: EngineJson): void {
  /** Swarm networks when this node can see the cluster state (a manager); none otherwise. */
  const swarmNetworks = async (): Promise<NetworkObject[]> => {
    const info = await node.swarmInfo();
    if (info.LocalNodeState !== 'active' || !info.ControlAvailable) return [];
    return control.listNetworks();
  };
  /** The swarm network `ref` names, or undefined when it is not one (a local network, or no swarm). */
  const findSwarmNetwork = async (ref: string): Promise<NetworkObject | undefined> => {
    if ((await swarmNetworks()).length === 0) return undefined;
    try {
      return await control.getNetwork(ref);
    } catch (e) {
      if (e instanceof ShoalError && e.code === 'not_found') return undefined;
      throw e;
    }
  };
  /** The engine's endpoints on the Docker network that carries overlay `id` on this host. */
  const localContainers = async (id: string): Promise<Record<string, unknown>> => {
    const filters = encodeURIComponent(JSON.stringify({ label: [`${OVERLAY_LABEL}=${id}`] }));
    const carriers = await engine.json<{ Id?: string }[]>(`/networks?filters=${filters}`);
    const carrier = Array.isArray(carriers) ? carriers[0]?.Id : undefined;
    if (!carrier) return {};
    // The carrier may go as the last local task leaves: then there is nothing to list.
    const inspected = await engine
      .json<{ Containers?: Record<string, unknown> | null }>(`/networks/${encodeURIComponent(carrier)}`)
      .catch(() => undefined);
    return inspected?.Containers ?? {};
  };
  /**
   * Docker's node-local view of a network, when this node has it: the ingress on every node, an overlay
   * where a task of this node runs on it. Its peers are the nodes that have it (every node, for the
   * ingress).
   */
  const localView = async (n: NetworkObject): Promise<Parameters<typeof networkWire>[1]> => {
    const [tasks, nodes, info] = await Promise.all([control.listTasks(), control.listNodes(), node.swarmInfo()]);
    const used = new Set<string>(
      tasks
        .filter((t) => t.Status.State === 'running' && (t.Networks ?? []).some((a) => a.NetworkID === n.ID))
        .map((t): string => t.NodeID ?? ''),
    );
    const has = (id: string): boolean => n.Spec.Ingress || used.has(id);
    if (!has(info.NodeID)) return { local: false };
    const peers: NetworkPeer[] = nodes
      .filter((x) => has(x.ID))
      .map((x) => ({ Name: x.Description.Hostname, IP: x.Status.Addr }));
    return { local: true, peers, containers: await localContainers(n.ID) };
  };

  r.on('GET', '/networks', async (c) => {
    const raw = c.query.get('filters');
    const f = parseFilters(raw, NETWORK_FILTERS);
    const engineList = await engine.json<{ Labels?: Record<string, string> | null }[]>(
      `/networks${raw ? `?filters=${encodeURIComponent(raw)}` : ''}`,
    );
    // The Docker network backing an overlay on this host is the overlay, already listed once.
    const local = Array.isArray(engineList) ? engineList.filter((n) => !n.Labels || !(OVERLAY_LABEL in n.Labels)) : [];
    // A swarm network is never dangling-filtered away nor builtin: Docker lists it as custom.
    const swarm = f.has('dangling') ? [] : (await swarmNetworks()).filter((n) => matches(n, f));
    writeJson(c.res, 200, [...swarm.map((n) => networkWire(n)), ...local]);
  });

  r.on('GET', '/networks/{id}', async (c) => {
    const n = await findSwarmNetwork(c.params.id!);
    if (!n) return false;
    writeJson(c.res, 200, networkWire(n, await localView(n)));
  });

  r.on('POST', '/networks/create', async (c) => {
    const req = await c.json<NetworkCreateRequest>(NETWORK_CREATE);
    if ((req.Driver ?? '') !== 'overlay') {
      // A local network: the engine's, with the body already read here.
      writeJson(c.res, 201, await engine.json('/networks/create', { method: 'POST', body: req }));
      return;
    }
    const { id } = await control.createNetwork(req);
    writeJson(c.res, 201, { Id: id, Warning: '' });
  });

  r.on('DELETE', '/networks/{id}', async (c) => {
    const n = await findSwarmNetwork(c.params.id!);
    if (!n) return false;
    await control.removeNetwork(n.ID);
    c.res.writeHead(204).end();
  });
}
