/**
 * Host-mode published ports (`--publish mode=host,…`) of tasks on overlays: only the node running
 * the task listens, straight to it. Docker's own port binding cannot do it here, since the engine
 * binds ports only for its bridge networks and a task's overlay is a macvlan network; so each host
 * DNATs its addresses' port P to the task's address on its first network (the one that holds its
 * default route, so the reply comes back through this host). The client's address is kept. Not for
 * 127.0.0.1: that would need `route_localnet` on every overlay's host link.
 */
import { invalidArgument } from '../common/errors.js';
import { parseIpv4 } from './cidr.js';
import { chain, ruleset, type NftRuleset } from './nft-ruleset.js';

export const HOST_PORTS_TABLE_SUFFIX = 'hostports';

export interface HostPort {
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly publishedPort: number;
  readonly targetPort: number;
  /** The local task's address on its first network. */
  readonly taskIp: string;
}

const port = (n: number): number => {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw invalidArgument(`invalid port ${n}`);
  return n;
};

export function hostPortRuleset(ports: readonly HostPort[]): NftRuleset {
  const sorted = [...ports].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.publishedPort - b.publishedPort);
  const dnat = sorted.map((p) => {
    if (parseIpv4(p.taskIp) === undefined) throw invalidArgument(`task address ${p.taskIp} is not a valid IP address`);
    if (!['tcp', 'udp', 'sctp'].includes(p.protocol)) throw invalidArgument(`invalid protocol ${p.protocol}`);
    return `fib daddr type local ${p.protocol} dport ${port(p.publishedPort)} dnat to ${p.taskIp} : ${port(p.targetPort)}`;
  });
  return ruleset(
    HOST_PORTS_TABLE_SUFFIX,
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', dnat) +
      // The host itself on its own addresses; on 127.0.0.1 it gets a refusal rather than a black hole.
      chain(
        'output',
        'type nat hook output priority -100; policy accept;',
        dnat.map((r) => `ip daddr != 127.0.0.0/8 ${r}`),
      ),
  );
}
