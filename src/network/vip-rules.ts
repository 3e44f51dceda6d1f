/**
 * Service VIP load balancing without IPVS: an nftables table inside each client container's network
 * namespace (as Docker programs IPVS there) DNATs every new connection or UDP flow to a VIP — any
 * port — to one of the service's backend task addresses, round-robin with `numgen inc mod N`.
 * Conntrack is per namespace, so replies are un-NATed where the connection started and the
 * backend sees the client's real address. Only the first packet of a flow is NATed: changing the
 * backends (replacing the table) never breaks established connections. The agent feeds only
 * running, healthy tasks that are not shutting down; a VIP with none is refused at once (TCP
 * reset / ICMP unreachable) instead of timing out.
 */
import { comparePrefix, parseCidr, parseIpv4 } from './cidr.js';
import { invalidArgument } from '../common/errors.js';
import { chain, ruleset, type NftRuleset } from './nft-ruleset.js';

/** nft 1.0.6 accepts the `dstnat` keyword only in prerouting, so the output hooks say -100. */
export const VIP_TABLE_SUFFIX = 'vip';

export interface VipBackends {
  /** The service's VIP on one network the client is on (plain address). */
  readonly vip: string;
  /** The addresses of its running, healthy tasks on that network. */
  readonly backends: readonly string[];
}

/** Sorted, de-duplicated, validated addresses: the same input always renders the same rules. */
export function sortedAddresses(list: readonly string[], what: string): string[] {
  for (const a of list) if (parseIpv4(a) === undefined) throw invalidArgument(`${what} ${a} is not a valid IP address`);
  return [...new Set(list)].sort((a, b) => comparePrefix(parseCidr(`${a}/32`)!, parseCidr(`${b}/32`)!));
}

/** `numgen inc mod N map { 0 : a, 1 : b }`, or the single address when there is one. */
export function roundRobin(backends: readonly string[]): string {
  if (backends.length === 1) return backends[0]!;
  return `numgen inc mod ${backends.length} map { ${backends.map((b, i) => `${i} : ${b}`).join(', ')} }`;
}

export function vipRuleset(services: readonly VipBackends[]): NftRuleset {
  const byVip = new Map<string, string[]>();
  for (const s of services) byVip.set(s.vip, sortedAddresses(s.backends, 'backend'));
  const vips = sortedAddresses([...byVip.keys()], 'VIP');
  const nat: string[] = [];
  const refuse: string[] = [];
  for (const vip of vips) {
    const backends = byVip.get(vip)!;
    if (backends.length > 0) nat.push(`ip daddr ${vip} dnat to ${roundRobin(backends)}`);
    else refuse.push(`ip daddr ${vip} meta l4proto tcp reject with tcp reset`, `ip daddr ${vip} reject`);
  }
  return ruleset(
    VIP_TABLE_SUFFIX,
    chain('output', 'type nat hook output priority -100; policy accept;', nat) +
      chain('refuse', 'type filter hook output priority filter; policy accept;', refuse),
  );
}
