/**
 * The runtime engine's side of an overlay on one host: a Docker network of driver `bridge` bound to
 * the overlay's own Linux bridge (which shoal made and enslaved the VXLAN device to), with the
 * overlay's subnet and gateway, so containers join it with their allocated address. Docker's
 * masquerade is off (egress NAT is shoal's table) and the MTU leaves room for VXLAN.
 */
import { EngineClient, HttpError } from '../../common/http-client.js';
import { DEFAULT_OVERLAY_MTU } from '../../network/plumbing.js';

/** Marks the Docker networks shoal made, so that cleanup finds them (and nothing else). */
export const OVERLAY_LABEL = 'io.shoal.network.id';

export interface BridgeNetworkSpec {
  /** Docker network name and Linux bridge name (the same: `shl-…`). */
  readonly name: string;
  readonly networkId: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly internal: boolean;
}

export interface DockerNetworks {
  /** Creates the network unless it exists. */
  ensure(spec: BridgeNetworkSpec): Promise<void>;
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

  async ensure(spec: BridgeNetworkSpec): Promise<void> {
    try {
      await this.engine.json(`/networks/${encodeURIComponent(spec.name)}`);
      return;
    } catch (e) {
      if (!(e instanceof HttpError && e.status === 404)) throw e;
    }
    try {
      await this.engine.json('/networks/create', {
        method: 'POST',
        body: {
          Name: spec.name,
          CheckDuplicate: true,
          Driver: 'bridge',
          Internal: spec.internal,
          IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: spec.gateway }] },
          Options: {
            'com.docker.network.bridge.name': spec.name,
            'com.docker.network.bridge.enable_ip_masquerade': 'false',
            'com.docker.network.driver.mtu': String(DEFAULT_OVERLAY_MTU),
          },
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
