/**
 * The cluster's default address pool (`swarm init --default-addr-pool CIDR...
 * --default-addr-pool-mask-length N`): overlay networks without --subnet get the first subnet of
 * that size, in pool order, that overlaps no network already allocated. The ingress network is
 * created first at init, so with the default pool it takes 10.0.0.0/24, as in Docker.
 *
 * Pure: the taken subnets come in as a list (read from the store), so a new leader computes the
 * same answers as the old one.
 */
import { invalidArgument } from '../common/errors.js';
import {
  comparePrefix,
  firstAddress,
  formatCidr,
  lastAddress,
  overlaps,
  parseCidr,
  prefixSize,
  type Ipv4Prefix,
} from './cidr.js';
import { noMoreSubnets } from './ipam-errors.js';

export const DEFAULT_ADDR_POOL: readonly string[] = ['10.0.0.0/8'];
export const DEFAULT_SUBNET_SIZE = 24;
/** Docker caps the pool mask length at /29: 8 addresses, the smallest useful overlay. */
export const MAX_SUBNET_SIZE = 29;

export interface AddressPool {
  readonly pools: readonly Ipv4Prefix[];
  readonly subnetSize: number;
}

/**
 * Validates `DefaultAddrPool` and `SubnetSize` of a swarm init request with the daemon's messages;
 * empty values mean the defaults. Returns the pool the allocator uses.
 */
export function parseAddressPool(
  defaultAddrPool: readonly string[] | undefined,
  subnetSize: number | undefined,
): AddressPool {
  const size = subnetSize || DEFAULT_SUBNET_SIZE;
  if (!Number.isInteger(size) || size < 0 || size > MAX_SUBNET_SIZE)
    throw invalidArgument(`subnet size is out of range: ${size}`);
  const texts = defaultAddrPool && defaultAddrPool.length > 0 ? defaultAddrPool : DEFAULT_ADDR_POOL;
  const pools: Ipv4Prefix[] = [];
  for (const raw of texts) {
    const text = raw.trim();
    const p = parseCidr(text);
    if (!p) throw invalidArgument(`invalid base pool ${text}: invalid CIDR address: ${text}`);
    if (size < p.bits) throw invalidArgument(`invalid CIDR: "${text}". Subnet size is too small for pool: ${size}`);
    // Like libnetwork, a pool inside an earlier (wider) one adds nothing: drop it.
    const base = { base: firstAddress(p), bits: p.bits };
    if (pools.some((q) => overlaps(q, base) && q.bits <= base.bits)) continue;
    pools.push(base);
  }
  return { pools, subnetSize: size };
}

/**
 * The first free subnet of `pool.subnetSize` bits, walking the pools in order and jumping past every
 * taken prefix it meets. Throws Docker's "fully subnetted" error when none is left.
 */
export function allocateSubnet(pool: AddressPool, taken: readonly string[]): string {
  const takenPrefixes = taken.map((t) => parseCidr(t)).filter((p): p is Ipv4Prefix => p !== undefined);
  takenPrefixes.sort(comparePrefix);
  const step = prefixSize(pool.subnetSize);
  for (const base of pool.pools) {
    const end = lastAddress(base);
    let candidate = firstAddress(base);
    while (candidate + step - 1 <= end) {
      const c: Ipv4Prefix = { base: candidate, bits: pool.subnetSize };
      const clash = takenPrefixes.find((t) => overlaps(t, c));
      if (!clash) return formatCidr(c);
      // Skip to the first aligned subnet after the clash.
      const after = lastAddress(clash) + 1;
      candidate = Math.max(candidate + step, Math.ceil(after / step) * step);
    }
  }
  throw noMoreSubnets();
}
