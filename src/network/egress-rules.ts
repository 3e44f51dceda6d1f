/**
 * Egress and isolation on one host, in place of docker_gwbridge: a task's default route is its
 * overlay's gateway on the local bridge, and routed traffic from the overlay's subnet to anywhere
 * else is masqueraded behind the host — except on `--internal` networks, which may not leave their
 * bridge at all. Nor may they reach the host itself: in Docker an internal overlay's bridge lives in
 * a namespace of its own with no route out, while ours sits in the host's namespace, so its input
 * path is closed too, but for the embedded DNS on the gateway address. Routed traffic between two shoal bridges is dropped, so two overlays that meet on
 * one host stay isolated (Docker's DOCKER-ISOLATION chains). Bridged traffic inside an overlay
 * (to local or VXLAN ports) is not routed and never touched.
 *
 * When the overlay's Docker network is created with
 * `com.docker.network.bridge.enable_ip_masquerade=false`, this table is the only egress NAT.
 */
import { invalidArgument } from '../common/errors.js';
import { formatCidr, masked, parseCidr, parseIpv4 } from './cidr.js';
import { BRIDGE_PREFIX } from './device-names.js';
import { chain, ruleset, type NftRuleset } from './nft-ruleset.js';

export const EGRESS_TABLE_SUFFIX = 'egress';

export interface EgressNetwork {
  readonly bridge: string;
  readonly subnet: string;
  readonly internal: boolean;
  /** This host's address on the bridge, where the embedded DNS answers. */
  readonly gateway: string;
}

export function egressRuleset(networks: readonly EgressNetwork[]): NftRuleset {
  const nat: string[] = [];
  const filter: string[] = [];
  const input: string[] = [];
  const sorted = [...networks].sort((a, b) => a.bridge.localeCompare(b.bridge));
  for (const n of sorted) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(n.bridge)) throw invalidArgument(`invalid bridge ${n.bridge}`);
    const p = parseCidr(n.subnet);
    if (!p) throw invalidArgument(`invalid subnet ${n.subnet}`);
    const subnet = formatCidr(masked(p));
    const br = `"${n.bridge}"`;
    if (n.internal) {
      if (parseIpv4(n.gateway) === undefined) throw invalidArgument(`invalid gateway ${n.gateway}`);
      filter.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
      input.push(
        `iifname ${br} ip daddr ${n.gateway} meta l4proto { tcp, udp } th dport 53 accept`,
        `iifname ${br} drop`,
      );
    } else {
      filter.push(`iifname ${br} oifname "${BRIDGE_PREFIX}*" oifname != ${br} drop`);
      nat.push(`ip saddr ${subnet} ip daddr != ${subnet} oifname != ${br} masquerade`);
    }
  }
  return ruleset(
    EGRESS_TABLE_SUFFIX,
    chain('forward', 'type filter hook forward priority filter; policy accept;', filter) +
      // Only with an internal network: an empty base chain still costs every packet a hook call.
      (input.length > 0 ? chain('input', 'type filter hook input priority filter; policy accept;', input) : '') +
      chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', nat),
  );
}
