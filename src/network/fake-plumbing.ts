/**
 * An in-memory NetworkPlumbing for agent tests: it keeps what the Linux implementation would have
 * made, with the same idempotency and naming, and records every call.
 */
import { notFound } from '../common/errors.js';
import { hostLinkName, OWNED_TABLE, vxlanName } from './device-names.js';
import { macForIp } from './mac.js';
import type { NftRuleset } from './nft-ruleset.js';
import type { NetworkPlumbing, OverlayDevices, OverlaySpec, OwnedObjects, RemoteEndpoint } from './plumbing.js';

export class FakePlumbing implements NetworkPlumbing {
  readonly overlays = new Map<string, OverlaySpec>();
  readonly endpoints = new Map<string, Map<string, RemoteEndpoint>>();
  readonly tables = new Map<string, NftRuleset>();
  readonly forwardAccepts = new Set<string>();
  readonly calls: string[] = [];

  ensureOverlay(spec: OverlaySpec): Promise<OverlayDevices> {
    this.calls.push(`ensureOverlay ${spec.networkId} ${spec.vni}`);
    const devices = { hostLink: hostLinkName(spec.networkId), vxlan: vxlanName(spec.networkId) };
    const before = this.overlays.get(spec.networkId);
    // A changed VNI recreates the VXLAN device, which drops its entries, as on Linux.
    if (before && before.vni !== spec.vni) this.endpoints.delete(spec.networkId);
    this.overlays.set(spec.networkId, spec);
    return Promise.resolve(devices);
  }

  removeOverlay(networkId: string): Promise<void> {
    this.calls.push(`removeOverlay ${networkId}`);
    this.overlays.delete(networkId);
    this.endpoints.delete(networkId);
    return Promise.resolve();
  }

  addRemoteEndpoint(networkId: string, ep: RemoteEndpoint): Promise<void> {
    this.calls.push(`addRemoteEndpoint ${networkId} ${ep.ip} ${ep.hostIp}`);
    if (!this.overlays.has(networkId))
      return Promise.reject(notFound(`overlay ${networkId} has no VXLAN device on this host`));
    const m = this.endpoints.get(networkId) ?? new Map<string, RemoteEndpoint>();
    m.set(ep.ip, { ip: ep.ip, hostIp: ep.hostIp, mac: ep.mac ?? macForIp(ep.ip) });
    this.endpoints.set(networkId, m);
    return Promise.resolve();
  }

  removeRemoteEndpoint(networkId: string, ep: RemoteEndpoint): Promise<void> {
    this.calls.push(`removeRemoteEndpoint ${networkId} ${ep.ip}`);
    this.endpoints.get(networkId)?.delete(ep.ip);
    return Promise.resolve();
  }

  listRemoteEndpoints(networkId: string): Promise<RemoteEndpoint[]> {
    return Promise.resolve([...(this.endpoints.get(networkId)?.values() ?? [])]);
  }

  applyRuleset(rs: NftRuleset): Promise<void> {
    this.calls.push(`applyRuleset ${rs.table}`);
    this.tables.set(rs.table, rs);
    return Promise.resolve();
  }

  removeRuleset(table: string): Promise<void> {
    this.calls.push(`removeRuleset ${table}`);
    // Table names are unique across families here (vip, mesh, egress: ip; gone: netdev).
    if (!OWNED_TABLE.test(table)) return Promise.reject(new Error(`not a shoal table: ${table}`));
    this.tables.delete(table);
    return Promise.resolve();
  }

  setForwardAccept(link: string, on: boolean): Promise<void> {
    this.calls.push(`setForwardAccept ${link} ${on}`);
    if (on) this.forwardAccepts.add(link);
    else this.forwardAccepts.delete(link);
    return Promise.resolve();
  }

  listOwned(): Promise<OwnedObjects> {
    const links = [...this.overlays.keys()].flatMap((id) => [hostLinkName(id), vxlanName(id)]).sort();
    return Promise.resolve({
      links,
      tables: [...this.tables.values()]
        .filter((t) => t.family === 'ip')
        .map((t) => t.table)
        .sort(),
      netdevTables: [...this.tables.values()]
        .filter((t) => t.family === 'netdev')
        .map((t) => t.table)
        .sort(),
      forwardAccepts: [...this.forwardAccepts].sort(),
    });
  }

  cleanup(): Promise<void> {
    this.calls.push('cleanup');
    this.overlays.clear();
    this.endpoints.clear();
    this.tables.clear();
    this.forwardAccepts.clear();
    return Promise.resolve();
  }
}
