/**
 * Addresses inside one network: task attachments, service VIPs, node (ingress) addresses. The
 * network and broadcast addresses and the gateway are never handed out.
 *
 * Pure, over the set of addresses already taken (read from the store's tasks, services and nodes):
 * releasing an address is simply no longer listing it. Allocation is serial by default, as swarmkit
 * asks libnetwork for: the search starts after the highest address taken (or after `startAfter`),
 * so a just-released address is not handed out again at once while stale DNS answers or ARP
 * entries may still point at it; it wraps around when the range's end is reached.
 */
import { contains, firstAddress, formatIpv4, lastAddress, parseCidr, parseIpv4, type Ipv4Prefix } from './cidr.js';
import { addressInUse, addressOutOfRange, invalidAddress, noAvailableIps } from './ipam-errors.js';

/** What the store keeps for a network's IPAM (Docker's IPAM.Config entry, all fields filled). */
export interface NetworkIpam {
  /** Masked CIDR, e.g. 10.0.1.0/24. */
  readonly subnet: string;
  /** Plain address, e.g. 10.0.1.1. */
  readonly gateway: string;
  /** CIDR inside `subnet` that task addresses and VIPs come from; the whole subnet when absent. */
  readonly ipRange?: string;
}

export interface AllocateOptions {
  /** An address the caller wants (e.g. `docker run --ip`); refused when taken or outside the range. */
  preferred?: string;
  /** Serial search (default true): start after the highest taken address instead of the lowest free. */
  serial?: boolean;
  /** Start the serial search after this address (a network's last allocation, if the caller keeps it). */
  startAfter?: string;
}

interface Plan {
  subnet: Ipv4Prefix;
  range: Ipv4Prefix;
  reserved: Set<number>;
}

function plan(net: NetworkIpam): Plan {
  const subnet = parseCidr(net.subnet);
  if (!subnet) throw invalidAddress(net.subnet);
  const range = net.ipRange ? parseCidr(net.ipRange) : subnet;
  if (!range) throw invalidAddress(net.ipRange ?? '');
  const reserved = new Set<number>();
  // /31 and /32 have no network or broadcast address (RFC 3021); larger subnets reserve both.
  if (subnet.bits <= 30) reserved.add(firstAddress(subnet)).add(lastAddress(subnet));
  const gw = parseIpv4(net.gateway);
  if (gw !== undefined) reserved.add(gw);
  return { subnet, range, reserved };
}

/** Strips a `/len` suffix: attachments are stored as `10.0.1.5/24`, VIPs likewise. */
export function hostPart(address: string): string {
  const slash = address.indexOf('/');
  return slash < 0 ? address : address.slice(0, slash);
}

/** `10.0.1.5` on `10.0.1.0/24` → `10.0.1.5/24`, the form Docker shows in attachments and VIPs. */
export function withPrefixLength(net: NetworkIpam, ip: string): string {
  const subnet = parseCidr(net.subnet);
  if (!subnet) throw invalidAddress(net.subnet);
  return `${hostPart(ip)}/${subnet.bits}`;
}

/** Allocates one address of `net` that is not in `taken` (plain or `/len` forms). */
export function allocateAddress(net: NetworkIpam, taken: Iterable<string>, opts: AllocateOptions = {}): string {
  const p = plan(net);
  const used = new Set<number>(p.reserved);
  for (const t of taken) {
    const n = parseIpv4(hostPart(t));
    if (n !== undefined) used.add(n);
  }
  if (opts.preferred !== undefined) {
    const want = parseIpv4(opts.preferred);
    if (want === undefined) throw invalidAddress(opts.preferred);
    if (!contains(p.subnet, want)) throw addressOutOfRange();
    if (used.has(want)) throw addressInUse();
    return formatIpv4(want);
  }
  const first = firstAddress(p.range);
  const last = lastAddress(p.range);
  let start = first;
  if (opts.serial !== false) {
    let after = opts.startAfter !== undefined ? parseIpv4(hostPart(opts.startAfter)) : undefined;
    if (after === undefined) {
      // The highest address handed out so far (reserved ones do not count).
      for (const n of used)
        if (!p.reserved.has(n) && n >= first && n <= last && (after === undefined || n > after)) after = n;
    }
    if (after !== undefined && after >= first && after < last) start = after + 1;
  }
  const size = last - first + 1;
  for (let i = 0; i < size; i++) {
    const n = first + ((start - first + i) % size);
    if (!used.has(n)) return formatIpv4(n);
  }
  throw noAvailableIps();
}

/** True when `ip` belongs to `net`'s subnet and is not one of its reserved addresses. */
export function isAssignable(net: NetworkIpam, ip: string): boolean {
  const p = plan(net);
  const n = parseIpv4(hostPart(ip));
  return n !== undefined && contains(p.subnet, n) && !p.reserved.has(n);
}
