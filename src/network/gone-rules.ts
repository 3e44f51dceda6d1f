/**
 * Addresses of task containers that died on this host, until the managers' view drops them. Remote
 * clients whose VIP tables still pick such a backend (their view has not arrived yet) send it SYNs
 * that would vanish on the VXLAN device — no link has its MAC any more — so the client hangs until its own
 * timeout. An ingress hook on the overlay's VXLAN device refuses them instead: a TCP reset, or ICMP
 * host-unreachable for other protocols, sent straight back through the tunnel, and the client fails
 * at once. Docker gets the same effect from IPVS dropping the backend as the endpoint leaves.
 */
import { chain, ruleset, type NftRuleset } from './nft-ruleset.js';
import { sortedAddresses } from './vip-rules.js';
import { vxlanName } from './device-names.js';

export const GONE_TABLE_SUFFIX = 'gone';

export interface GoneEndpoints {
  readonly networkId: string;
  /** Addresses on that network whose containers on this host have died. */
  readonly ips: readonly string[];
}

/** One base chain per VXLAN device (a netdev hook names one device); none for an empty list. */
export function goneRuleset(list: readonly GoneEndpoints[]): NftRuleset {
  const byDevice = new Map<string, string[]>();
  for (const g of list) {
    const dev = vxlanName(g.networkId);
    byDevice.set(dev, [...(byDevice.get(dev) ?? []), ...g.ips]);
  }
  let body = '';
  for (const dev of [...byDevice.keys()].sort()) {
    const ips = sortedAddresses(byDevice.get(dev)!, 'endpoint');
    if (ips.length === 0) continue;
    const set = `{ ${ips.join(', ')} }`;
    body += chain(dev, `type filter hook ingress device "${dev}" priority -200; policy accept;`, [
      `ip daddr ${set} meta l4proto tcp reject with tcp reset`,
      `ip daddr ${set} reject with icmp type host-unreachable`,
    ]);
  }
  return ruleset(GONE_TABLE_SUFFIX, body, 'netdev');
}
