/**
 * Addresses on overlay networks: a VIP per service per attached network (vip mode), an address per
 * task per attached network. Pure over the store's objects: the addresses in use on a network are
 * those of every task still in the store (history included, until the task reaper deletes it) and
 * every service VIP, so releasing is simply the task or VIP going away, and a new leader computes
 * the same. Allocation is serial (libnetwork's way), so a freed address is not handed out again
 * at once while a stale DNS answer may still point at it: the leader remembers where it last
 * allocated on each network (`AllocationCursors`) and goes on from there; a new leader starts after
 * the highest address in use.
 */
import { allocateAddress, withPrefixLength } from '../../network/addresses.js';
import { hostLinkName } from '../../network/device-names.js';
import type { NetworkIpam } from '../../network/network-ipam.js';
import type { NetworkAttachment, NetworkObject, NodeObject, ServiceObject, TaskObject } from '../../store/types.js';

export type VirtualIp = { NetworkID: string; Addr: string };

/** The Docker network (of driver macvlan, on the overlay's VXLAN device) a node attaches containers to. */
export function dockerNetworkName(networkId: string): string {
  return hostLinkName(networkId);
}

export function ipamOf(n: NetworkObject): NetworkIpam {
  const a = n.Allocation;
  return a.IPRange
    ? { subnet: a.Subnet, gateway: a.Gateway, ipRange: a.IPRange }
    : { subnet: a.Subnet, gateway: a.Gateway };
}

/** The last address handed out per network id: in the leader's memory, as libnetwork's serial bitmaps keep it. */
export type AllocationCursors = Map<string, string>;

/** Every address taken on every network, by network id (plain or `/len` forms). */
export class AddressBook {
  private readonly used = new Map<string, string[]>();

  constructor(
    services: readonly ServiceObject[],
    tasks: readonly TaskObject[],
    nodes: readonly NodeObject[] = [],
    private readonly cursors: AllocationCursors = new Map(),
  ) {
    for (const s of services) for (const v of s.Endpoint.VirtualIPs ?? []) this.take(v.NetworkID, v.Addr);
    for (const t of tasks)
      for (const a of t.Networks ?? []) for (const addr of a.Addresses) this.take(a.NetworkID, addr);
    for (const n of nodes)
      for (const a of [...(n.Attachments ?? []), ...(n.ContainerAttachments ?? [])])
        for (const addr of a.Addresses) this.take(a.NetworkID, addr);
  }

  take(networkId: string, addr: string): void {
    const list = this.used.get(networkId) ?? [];
    list.push(addr);
    this.used.set(networkId, list);
  }

  /** A fresh address on `n` (or the `preferred` one, refused when taken), recorded as taken. */
  allocate(n: NetworkObject, preferred?: string): string {
    const ipam = ipamOf(n);
    const taken = this.used.get(n.ID) ?? [];
    const after = this.cursors.get(n.ID);
    const opts = preferred ? { preferred } : after ? { startAfter: after } : {};
    const ip = withPrefixLength(ipam, allocateAddress(ipam, taken, opts));
    this.take(n.ID, ip);
    if (!preferred) this.cursors.set(n.ID, ip);
    return ip;
  }
}

/** The networks a service is attached to that exist (ids, in spec order). */
export function attachedNetworks(
  targets: readonly { Target: string }[] | undefined,
  networks: ReadonlyMap<string, NetworkObject>,
): NetworkObject[] {
  const out: NetworkObject[] = [];
  for (const a of targets ?? []) {
    const n = networks.get(a.Target);
    if (n) out.push(n);
  }
  return out;
}

/** Whether a service publishes a port through the routing mesh (so it lives on the ingress network too). */
export function publishesIngress(s: ServiceObject): boolean {
  return (s.Spec.EndpointSpec?.Ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress');
}

/** The routing mesh's network, if the cluster has one. */
export function ingressNetwork(networks: ReadonlyMap<string, NetworkObject>): NetworkObject | undefined {
  for (const n of networks.values()) if (n.Spec.Ingress) return n;
  return undefined;
}

/**
 * The VIPs a service should hold: on the ingress network first when it publishes ingress ports
 * (as swarmkit does), then one per attached network in vip mode (kept when already there), none
 * for those in dnsrr mode. Undefined when nothing changes.
 */
export function serviceVips(
  s: ServiceObject,
  networks: ReadonlyMap<string, NetworkObject>,
  book: AddressBook,
): VirtualIp[] | undefined {
  const current = s.Endpoint.VirtualIPs ?? [];
  const ingress = ingressNetwork(networks);
  const wanted = [
    ...(ingress && publishesIngress(s) ? [ingress] : []),
    ...((s.Spec.EndpointSpec?.Mode ?? 'vip') === 'vip' ? attachedNetworks(s.Spec.TaskTemplate.Networks, networks) : []),
  ];
  const next: VirtualIp[] = wanted.map(
    (n) => current.find((v) => v.NetworkID === n.ID) ?? { NetworkID: n.ID, Addr: book.allocate(n) },
  );
  const same =
    next.length === current.length &&
    next.every((v, i) => v.NetworkID === current[i]?.NetworkID && v.Addr === current[i]?.Addr);
  return same ? undefined : next;
}

/**
 * A new task's attachments, one address per network of its spec, preceded by the ingress network
 * when its service publishes through the mesh (swarmkit's order); undefined while a network is missing.
 */
export function taskAttachments(
  t: TaskObject,
  svc: ServiceObject,
  networks: ReadonlyMap<string, NetworkObject>,
  book: AddressBook,
): NetworkAttachment[] | undefined {
  const ingress = ingressNetwork(networks);
  const specs = [...(ingress && publishesIngress(svc) ? [{ Target: ingress.ID }] : []), ...(t.Spec.Networks ?? [])];
  if (specs.some((a) => !networks.has(a.Target))) return undefined;
  return specs.map((a: { Target: string; Aliases?: string[] }) => {
    const n = networks.get(a.Target)!;
    const att: NetworkAttachment = {
      NetworkID: n.ID,
      DockerNetwork: dockerNetworkName(n.ID),
      Addresses: [book.allocate(n)],
    };
    if (a.Aliases?.length) att.Aliases = [...a.Aliases];
    return att;
  });
}

/**
 * A node's attachments: an address on the ingress network (the mesh's SNAT source, programmed on
 * every host like a task), kept once given; attachments to networks that are gone are dropped.
 * Undefined when nothing changes.
 */
export function nodeAttachments(
  node: NodeObject,
  networks: ReadonlyMap<string, NetworkObject>,
  book: AddressBook,
): NetworkAttachment[] | undefined {
  const current = node.Attachments ?? [];
  const ingress = ingressNetwork(networks);
  const next = current.filter((a) => networks.has(a.NetworkID));
  if (ingress && !next.some((a) => a.NetworkID === ingress.ID)) {
    next.unshift({
      NetworkID: ingress.ID,
      DockerNetwork: dockerNetworkName(ingress.ID),
      Addresses: [book.allocate(ingress)],
    });
  }
  return next.length === current.length && next.every((a, i) => a === current[i]) ? undefined : next;
}
