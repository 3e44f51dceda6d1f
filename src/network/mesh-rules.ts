/**
 * The ingress routing mesh on one host, without IPVS: every node accepts a published port on all
 * its addresses and DNATs each new connection or UDP flow round-robin to the service's tasks on
 * the ingress overlay, wherever they run. Connections from the host itself (127.0.0.1 or its own
 * addresses) are caught in the output hook; 127.0.0.1 additionally needs `route_localnet` on the
 * ingress host link (OverlaySpec.routeLocalnet) since the kernel otherwise drops loopback-sourced
 * packets that leave the host.
 *
 * Source address: the return path must come back through this host (its conntrack holds the NAT),
 * so forwarded flows are SNATed to this node's own ingress address — the backend sees the node,
 * not the client, as with Docker's mesh (moby#25526). With `keepSourceForLocal`, flows to a task
 * on this same host keep the client's address (its reply comes back through this host anyway);
 * that needs the task's reply route to pass this host's ingress host link and rp_filter to allow it.
 */
import { invalidArgument } from '../common/errors.js';
import { parseIpv4 } from './cidr.js';
import { chain, ruleset, type NftRuleset } from './nft-ruleset.js';
import { roundRobin, sortedAddresses } from './vip-rules.js';

export const MESH_TABLE_SUFFIX = 'mesh';

export interface PublishedPort {
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly publishedPort: number;
  readonly targetPort: number;
  /** Ingress-network addresses of the service's running, healthy tasks on every host. */
  readonly backends: readonly string[];
}

export interface MeshSpec {
  /** The ingress network's host link on this host. */
  readonly ingressLink: string;
  /** This node's own address on the ingress network (the SNAT source). */
  readonly nodeIngressIp: string;
  readonly ports: readonly PublishedPort[];
  /** Ingress addresses of tasks on this host, whose flows keep the client's source (optional). */
  readonly keepSourceForLocal?: readonly string[];
}

const port = (n: number): number => {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw invalidArgument(`invalid port ${n}`);
  return n;
};

export function meshRuleset(spec: MeshSpec): NftRuleset {
  if (parseIpv4(spec.nodeIngressIp) === undefined)
    throw invalidArgument(`node ingress address ${spec.nodeIngressIp} is not a valid IP address`);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(spec.ingressLink)) throw invalidArgument(`invalid link ${spec.ingressLink}`);
  const dnat: string[] = [];
  const ports = [...spec.ports].sort(
    (a, b) => a.protocol.localeCompare(b.protocol) || a.publishedPort - b.publishedPort,
  );
  for (const p of ports) {
    const backends = sortedAddresses(p.backends, 'backend');
    if (backends.length === 0) continue;
    dnat.push(
      `fib daddr type local ${p.protocol} dport ${port(p.publishedPort)} dnat to ${roundRobin(backends)} : ${port(p.targetPort)}`,
    );
  }
  const br = `"${spec.ingressLink}"`;
  const snat: string[] = [`oifname ${br} ct status dnat ip saddr 127.0.0.0/8 snat to ${spec.nodeIngressIp}`];
  const local = sortedAddresses(spec.keepSourceForLocal ?? [], 'local backend');
  if (local.length > 0) snat.push(`oifname ${br} ct status dnat ip daddr { ${local.join(', ')} } accept`);
  snat.push(`oifname ${br} ct status dnat snat to ${spec.nodeIngressIp}`);
  return ruleset(
    MESH_TABLE_SUFFIX,
    // route_localnet on the ingress link would also let a container there reach the host's
    // 127.0.0.1 services (CVE-2020-8558 in kube-proxy); nothing from the link may go to 127/8.
    chain('guard', 'type filter hook prerouting priority raw; policy accept;', [
      `iifname ${br} ip daddr 127.0.0.0/8 drop`,
    ]) +
      chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', dnat) +
      chain('output', 'type nat hook output priority -100; policy accept;', dnat) +
      chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', snat),
  );
}
