/**
 * What a node needs to know about the overlays its tasks use, sent with its assignments: the
 * networks (addresses, VNI), every task endpoint on them cluster-wide (address and the underlay
 * address of the node it lives on: enough to program FDB/neighbour entries without flooding), and
 * the services on them (VIP, mode, aliases) for the embedded DNS and the VIP tables. Pure.
 */
import { hostPart } from '../../network/addresses.js';
import { DEFAULT_DATA_PATH_PORT } from '../../network/data-path-port.js';
import {
  stateRank,
  type ClusterObject,
  type NetworkObject,
  type NodeObject,
  type ServiceObject,
  type TaskObject,
} from '../../store/types.js';
import type { MeshView, NetworkView, ViewEndpoint } from './session.js';

/** Docker's task name, answered by the embedded DNS like a container name. */
function taskDnsName(t: TaskObject): string {
  return `${t.ServiceAnnotations.Name}.${t.Slot > 0 ? t.Slot : (t.NodeID ?? '')}.${t.ID}`;
}

/** A task whose container may exist: scheduled, not yet terminal. */
function mayHaveContainer(t: TaskObject): boolean {
  return (
    Boolean(t.NodeID) &&
    stateRank(t.Status.State) >= stateRank('assigned') &&
    stateRank(t.Status.State) < stateRank('complete')
  );
}

export function networkViewFor(
  nodeId: string,
  assigned: readonly TaskObject[],
  all: {
    tasks: readonly TaskObject[];
    services: readonly ServiceObject[];
    networks: readonly NetworkObject[];
    nodes: readonly NodeObject[];
    /** The cluster object (its data path port); absent in tests that need none. */
    clusters?: readonly ClusterObject[];
  },
): NetworkView {
  const dataPathPort = all.clusters?.[0]?.DataPathPort || DEFAULT_DATA_PATH_PORT;
  const wanted = new Set<string>();
  for (const t of assigned) for (const a of t.Networks ?? []) wanted.add(a.NetworkID);
  const self = all.nodes.find((n) => n.ID === nodeId);
  for (const a of self?.ContainerAttachments ?? []) wanted.add(a.NetworkID);
  const mesh = meshFor(nodeId, all);
  if (mesh) wanted.add(mesh.networkId);
  const networks = all.networks.filter((n) => wanted.has(n.ID)).sort((a, b) => a.ID.localeCompare(b.ID));
  const nodeAddr = new Map(all.nodes.map((n) => [n.ID as string, n.Status.Addr]));
  const serviceName = new Map(all.services.map((s) => [s.ID as string, s.Spec.Name]));
  const endpoints: ViewEndpoint[] = [];
  for (const t of all.tasks) {
    if (!mayHaveContainer(t)) continue;
    for (const a of t.Networks ?? []) {
      if (!wanted.has(a.NetworkID) || !a.Addresses[0]) continue;
      const hostIp = nodeAddr.get(t.NodeID!) ?? '';
      if (!hostIp && t.NodeID !== nodeId) continue;
      endpoints.push({
        networkId: a.NetworkID,
        ip: hostPart(a.Addresses[0]),
        nodeId: t.NodeID!,
        hostIp,
        taskId: t.ID,
        taskName: taskDnsName(t),
        serviceName: serviceName.get(t.ServiceID) ?? t.ServiceAnnotations.Name,
        aliases: a.Aliases ?? [],
        serving: t.Status.State === 'running' && t.DesiredState === 'running',
      });
    }
  }
  for (const n of all.nodes) {
    for (const a of n.ContainerAttachments ?? []) {
      if (!wanted.has(a.NetworkID) || !a.Addresses[0]) continue;
      if (!n.Status.Addr && n.ID !== nodeId) continue;
      endpoints.push({
        networkId: a.NetworkID,
        ip: hostPart(a.Addresses[0]),
        nodeId: n.ID,
        hostIp: n.Status.Addr,
        taskId: a.ID,
        taskName: a.ID,
        serviceName: '',
        aliases: a.Aliases ?? [],
        serving: false,
        attachment: true,
      });
    }
  }
  endpoints.sort((a, b) => (a.networkId + a.ip).localeCompare(b.networkId + b.ip));
  const services = [];
  for (const s of all.services) {
    for (const a of s.Spec.TaskTemplate.Networks ?? []) {
      if (!wanted.has(a.Target)) continue;
      const vip = s.Endpoint.VirtualIPs?.find((v) => v.NetworkID === a.Target);
      const mode = s.Spec.EndpointSpec?.Mode ?? 'vip';
      services.push({
        networkId: a.Target,
        name: s.Spec.Name,
        mode,
        ...(mode === 'vip' && vip ? { vip: hostPart(vip.Addr) } : {}),
        aliases: a.Aliases ?? [],
      });
    }
  }
  services.sort((a, b) => (a.networkId + a.name).localeCompare(b.networkId + b.name));
  return {
    networks: networks.map((n) => ({
      id: n.ID,
      name: n.Spec.Name,
      subnet: n.Allocation.Subnet,
      gateway: n.Allocation.Gateway,
      vni: n.Allocation.VNI,
      internal: n.Spec.Internal,
      ...(n.Spec.Ingress ? { ingress: true } : {}),
    })),
    services,
    endpoints,
    ...(mesh ? { mesh } : {}),
    dataPathPort,
  };
}

/**
 * The routing mesh for one node: present on every node (with or without a task) while a service
 * publishes an ingress port and the node has its ingress address. Backends are the ingress
 * addresses of the serving tasks (running and meant to run: a task shutting down gets no new flow).
 */
function meshFor(
  nodeId: string,
  all: {
    tasks: readonly TaskObject[];
    services: readonly ServiceObject[];
    networks: readonly NetworkObject[];
    nodes: readonly NodeObject[];
  },
): MeshView | undefined {
  const ingress = all.networks.find((n) => n.Spec.Ingress);
  if (!ingress) return undefined;
  const addressOf = (n: NodeObject): string | undefined =>
    n.Attachments?.find((a) => a.NetworkID === ingress.ID)?.Addresses[0];
  const self = all.nodes.find((n) => n.ID === nodeId);
  const nodeAddress = self && addressOf(self);
  if (!nodeAddress) return undefined;
  const serving = new Map<string, string[]>();
  for (const t of all.tasks) {
    if (t.Status.State !== 'running' || t.DesiredState !== 'running') continue;
    const a = t.Networks?.find((x) => x.NetworkID === ingress.ID)?.Addresses[0];
    if (!a) continue;
    const list = serving.get(t.ServiceID) ?? [];
    list.push(hostPart(a));
    serving.set(t.ServiceID, list);
  }
  const ports = [];
  for (const s of all.services) {
    for (const p of s.Endpoint.Ports ?? []) {
      if (p.PublishMode !== 'ingress' || !p.PublishedPort) continue;
      ports.push({
        protocol: p.Protocol ?? 'tcp',
        publishedPort: p.PublishedPort,
        targetPort: p.TargetPort,
        backends: [...(serving.get(s.ID) ?? [])].sort(),
      });
    }
  }
  if (ports.length === 0) return undefined;
  ports.sort((a, b) => a.protocol.localeCompare(b.protocol) || a.publishedPort - b.publishedPort);
  const peers = [];
  for (const n of all.nodes) {
    const a = addressOf(n);
    if (n.ID === nodeId || !a || !n.Status.Addr) continue;
    peers.push({ ip: hostPart(a), hostIp: n.Status.Addr });
  }
  peers.sort((a, b) => a.ip.localeCompare(b.ip));
  return { networkId: ingress.ID, nodeAddress, peers, ports };
}
