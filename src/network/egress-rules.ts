/**
 * Egress and isolation on one host, in place of docker_gwbridge: a task's default route is its
 * overlay's gateway on the host link, and routed traffic from the overlay's subnet to anywhere else
 * is masqueraded behind the host — except on `--internal` networks, which may not leave their
 * overlay at all. Nor may they reach the host itself: in Docker an internal overlay lives in a
 * namespace of its own with no route out, while our host link sits in the host's namespace, so its
 * input path is closed too, but for the embedded DNS on the gateway address.
 *
 * Isolation (Docker's DOCKER-ISOLATION chains, which know nothing of macvlan links): routed traffic
 * between two overlays is dropped, and so is traffic from an overlay to the engine's own bridge
 * networks (`docker*`, `br-*`); no new flow may be routed into an overlay from elsewhere but the
 * routing mesh's DNATed ones. Traffic inside an overlay (between local containers, or over the VXLAN
 * device) is never routed and never touched.
 */
import { invalidArgument } from '../common/errors.js';
import { formatCidr, masked, parseCidr, parseIpv4 } from './cidr.js';
import { HOST_LINK_PREFIX } from './device-names.js';
import { chain, ruleset, type NftRuleset } from './nft-ruleset.js';

export const EGRESS_TABLE_SUFFIX = 'egress';

export interface EgressNetwork {
  /** The overlay's host link (`shl-…`). */
  readonly link: string;
  readonly subnet: string;
  readonly internal: boolean;
  /** This host's address on the host link, where the embedded DNS answers. */
  readonly gateway: string;
}

export function egressRuleset(networks: readonly EgressNetwork[]): NftRuleset {
  const nat: string[] = [];
  const filter: string[] = [];
  const input: string[] = [];
  const sorted = [...networks].sort((a, b) => a.link.localeCompare(b.link));
  for (const n of sorted) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(n.link)) throw invalidArgument(`invalid link ${n.link}`);
    const p = parseCidr(n.subnet);
    if (!p) throw invalidArgument(`invalid subnet ${n.subnet}`);
    const subnet = formatCidr(masked(p));
    const br = `"${n.link}"`;
    if (n.internal) {
      if (parseIpv4(n.gateway) === undefined) throw invalidArgument(`invalid gateway ${n.gateway}`);
      filter.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
      input.push(
        `iifname ${br} ip daddr ${n.gateway} meta l4proto { tcp, udp } th dport 53 accept`,
        `iifname ${br} drop`,
      );
    } else {
      // A flow the host DNATed (a published port, the mesh's or the engine's) and its replies pass.
      const notDnat = 'ct status & dnat == 0';
      filter.push(
        `iifname ${br} oifname "${HOST_LINK_PREFIX}*" oifname != ${br} ${notDnat} drop`,
        `iifname ${br} oifname "docker*" ${notDnat} drop`,
        `iifname ${br} oifname "br-*" ${notDnat} drop`,
        `oifname ${br} iifname != ${br} ct state new ${notDnat} drop`,
      );
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
