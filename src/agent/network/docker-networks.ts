/**
 * The runtime engine's side of an overlay on one host: a Docker network of driver `macvlan` (bridge
 * mode) whose parent is the overlay's VXLAN device, with the overlay's subnet and gateway, so each
 * container gets a macvlan link on the VXLAN device with its allocated address (and Docker's MAC for
 * it, 02:42:<ip>) and the VXLAN device's MTU. The engine adds no NAT or filter rules for a macvlan
 * network: egress NAT and isolation are shoal's tables. An `--internal` overlay gives its containers
 * no default route.
 */
import { EngineClient, HttpError } from '../../common/http-client.js';

/** Marks the Docker networks shoal made, so that cleanup finds them (and nothing else). */
export const OVERLAY_LABEL = 'io.shoal.network.id';

export interface CarrierNetworkSpec {
  /** Docker network name (the host link's name, `shl-…`). */
  readonly name: string;
  /** The overlay's VXLAN device on this host (`shv-…`). */
  readonly parent: string;
  readonly networkId: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly internal: boolean;
}

export interface DockerNetworks {
  /** Creates the network unless it exists. */
  ensure(spec: CarrierNetworkSpec): Promise<void>;
  /** Removes it; a missing network is fine. Fails while containers are attached. */
  remove(name: string): Promise<void>;
  /** Names of the networks shoal made on this engine. */
  listOwned(): Promise<string[]>;
}

export class EngineDockerNetworks implements DockerNetworks {
  private readonly engine: EngineClient;

  constructor(runtimeUrl: string) {
    this.engine = new EngineClient(runtimeUrl, '/v1.41');
  }

  async ensure(spec: CarrierNetworkSpec): Promise<void> {
    try {
      const cur = await this.engine.json<{ Driver?: string; Options?: Record<string, string> | null }>(
        `/networks/${encodeURIComponent(spec.name)}`,
      );
      if (cur.Driver === 'macvlan' && cur.Options?.parent === spec.parent) return;
      // An older shoal's bridge network (or one on another parent): replaced while no container uses it.
      await this.remove(spec.name);
    } catch (e) {
      if (!(e instanceof HttpError && e.status === 404)) throw e;
    }
    try {
      await this.engine.json('/networks/create', {
        method: 'POST',
        body: {
          Name: spec.name,
          CheckDuplicate: true,
          Driver: 'macvlan',
          Internal: spec.internal,
          IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: spec.gateway }] },
          Options: { parent: spec.parent, macvlan_mode: 'bridge' },
          Labels: { [OVERLAY_LABEL]: spec.networkId },
        },
      });
    } catch (e) {
      if (e instanceof HttpError && e.status === 409) return;
      throw e;
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.engine.json(`/networks/${encodeURIComponent(name)}`, { method: 'DELETE' });
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return;
      throw e;
    }
  }

  async listOwned(): Promise<string[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: [OVERLAY_LABEL] }));
    const list = await this.engine.json<{ Name: string }[]>(`/networks?filters=${filters}`);
    return list.map((n) => n.Name);
  }
}
