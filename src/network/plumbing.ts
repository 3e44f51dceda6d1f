/**
 * The host plumbing the agent drives, behind an interface so the agent can be tested with a fake
 * and the Linux implementation in network namespaces. One overlay network on one host is a VXLAN
 * device with macvlan links on it (bridge mode): the host's own link (`shl-…`, holding the gateway
 * address and, on the ingress network, the node's address) and each local container's, which the
 * engine's macvlan driver makes with the VXLAN device as parent. Local endpoints reach each other
 * inside the macvlan; everything else leaves through the VXLAN device. No Linux bridge is involved,
 * so overlay traffic pays for no bridge netfilter pass (Docker keeps its overlay bridge in a
 * namespace of its own for the same reason). Remote endpoints are static FDB + neighbour entries on
 * the VXLAN device; NAT policy is whole nftables tables replaced atomically.
 */
import type { NftFamily, NftRuleset } from './nft-ruleset.js';

/** DESIGN.md: overlay data on 4789/udp unless `swarm init --data-path-port` chose another. */
export { DEFAULT_DATA_PATH_PORT as DEFAULT_VXLAN_PORT } from './data-path-port.js';
/** 1500 minus the 50 bytes of VXLAN encapsulation, as Docker's overlay driver sets. */
export const DEFAULT_OVERLAY_MTU = 1450;

export interface OverlaySpec {
  readonly networkId: string;
  readonly vni: number;
  /** This host's data-path (underlay) address; VXLAN packets leave from it. */
  readonly localUnderlayIp: string;
  /** Bind the VXLAN device to this underlay link (optional; the route decides otherwise). */
  readonly underlayDevice?: string;
  readonly dstPort?: number;
  readonly mtu?: number;
  /** The overlay's gateway (CIDR, `10.0.1.1/24`), on the host link: the embedded DNS and the way out. */
  readonly gateway: string;
  /**
   * This host's own address on the overlay (CIDR, e.g. its ingress address `10.0.0.3/24`): put on
   * the host link, whose MAC becomes 02:42:<ip> so that remote hosts can program it like a task.
   */
  readonly hostAddress?: string;
  /** Let 127.0.0.1-sourced packets leave through the host link (the routing mesh from the host itself). */
  readonly routeLocalnet?: boolean;
}

export interface OverlayDevices {
  /** The host's macvlan link on the overlay (also the name of the engine's network). */
  readonly hostLink: string;
  readonly vxlan: string;
}

/** An endpoint (task, attachable container or node address) that lives on another host. */
export interface RemoteEndpoint {
  readonly ip: string;
  /** The remote host's underlay address. */
  readonly hostIp: string;
  /** Defaults to Docker's MAC for `ip` (02:42:<ip bytes>). */
  readonly mac?: string;
}

export interface OwnedObjects {
  readonly links: readonly string[];
  readonly tables: readonly string[];
  /** Tables of the netdev family (the gone table). */
  readonly netdevTables: readonly string[];
  /** Host links with DOCKER-USER accept rules. */
  readonly forwardAccepts: readonly string[];
}

export interface NetworkPlumbing {
  /** Creates or repairs the VXLAN device and host link of a network; a no-op when already right. */
  ensureOverlay(spec: OverlaySpec): Promise<OverlayDevices>;
  /** Removes a network's devices (and with them its FDB/neighbour entries); a no-op when absent. */
  removeOverlay(networkId: string): Promise<void>;
  /** Programs (or re-points) the FDB and permanent neighbour entries for a remote endpoint. */
  addRemoteEndpoint(networkId: string, ep: RemoteEndpoint): Promise<void>;
  /** Removes them; a no-op when absent. */
  removeRemoteEndpoint(networkId: string, ep: RemoteEndpoint): Promise<void>;
  /** The remote endpoints programmed for a network (to resync after an agent restart). */
  listRemoteEndpoints(networkId: string): Promise<RemoteEndpoint[]>;
  /** Replaces (or creates) a shoal nftables table in one transaction. */
  applyRuleset(rs: NftRuleset): Promise<void>;
  /** Removes a shoal nftables table (of the `ip` family unless told); a no-op when absent. */
  removeRuleset(table: string, family?: NftFamily): Promise<void>;
  /** Accepts (or stops accepting) routed flows of the overlay on `link` in Docker's DOCKER-USER chain. */
  setForwardAccept(link: string, on: boolean): Promise<void>;
  /** Everything shoal made here, found by naming convention. */
  listOwned(): Promise<OwnedObjects>;
  /** Removes everything shoal made here (node leave/removal, crash recovery). */
  cleanup(): Promise<void>;
}
