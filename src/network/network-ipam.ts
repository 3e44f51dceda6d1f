/**
 * A network's address plan: its subnet, gateway and optional allocation range, from the user's
 * `--subnet/--gateway/--ip-range` (validated with Docker's messages) or from the default address
 * pool. Pure; the subnets of the other networks come in from the store.
 */
import { invalidArgument, ShoalError } from '../common/errors.js';
import {
  contains,
  formatCidr,
  formatIpv4,
  isMasked,
  masked,
  overlaps,
  parseCidr,
  parseIpv4,
  type Ipv4Prefix,
} from './cidr.js';
import { allocateSubnet, type AddressPool } from './address-pool.js';
import { allocateAddress, type NetworkIpam } from './addresses.js';

export type { NetworkIpam };
import { poolOverlap } from './ipam-errors.js';

/** The user's request, in the Engine API's field names. */
export interface IpamConfigRequest {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
}

/**
 * Docker's ValidateIPAM for IPv4: every problem of every entry, joined the way moby joins them
 * ("invalid network config:\n* ...").
 */
export function validateIpamConfig(configs: readonly IpamConfigRequest[]): void {
  const errs: string[] = [];
  for (const cfg of configs) {
    const subnetText = cfg.Subnet ?? '';
    const subnet = parseCidr(subnetText);
    if (!subnet) {
      errs.push(`invalid subnet ${subnetText}: invalid CIDR block notation`);
      continue;
    }
    if (!isMasked(subnet))
      errs.push(`invalid subnet ${formatCidr(subnet)}: it should be ${formatCidr(masked(subnet))}`);
    errs.push(...ipRangeErrors(cfg.IPRange ?? '', subnet));
    const gw = cfg.Gateway ?? '';
    if (gw !== '') {
      const addr = parseIpv4(gw);
      if (addr === undefined) errs.push(`invalid gateway ${gw}: invalid address`);
      else if (!contains(subnet, addr))
        errs.push(`invalid gateway ${gw}: parent subnet ${formatCidr(subnet)} doesn't contain this address`);
    }
  }
  if (errs.length > 0) throw invalidArgument(`invalid network config:\n* ${errs.join('\n* ')}`);
}

function ipRangeErrors(text: string, subnet: Ipv4Prefix): string[] {
  if (text === '') return [];
  const range = parseCidr(text);
  if (!range) return [`invalid ip-range ${text}: invalid CIDR block notation`];
  const errs: string[] = [];
  if (range.bits < subnet.bits)
    errs.push(`invalid ip-range ${text}: CIDR block is bigger than its parent subnet ${formatCidr(subnet)}`);
  if (!isMasked(range)) errs.push(`invalid ip-range ${formatCidr(range)}: it should be ${formatCidr(masked(range))}`);
  if (!overlaps(subnet, range))
    errs.push(`invalid ip-range ${text}: parent subnet ${formatCidr(subnet)} doesn't contain ip-range`);
  return errs;
}

/**
 * Plans a new network's IPAM: the user's subnet (refused when it overlaps another network's, with
 * libnetwork's message) or the next subnet of the default pool; the user's gateway or the first
 * usable address. `others` are the subnets every other network already holds.
 */
export function planNetworkIpam(
  configs: readonly IpamConfigRequest[],
  pool: AddressPool,
  others: readonly string[],
): NetworkIpam {
  if (configs.length > 1) throw invalidArgument('overlay networks take a single IPv4 subnet in shoal');
  validateIpamConfig(configs);
  const cfg = configs[0];
  let subnet: string;
  if (cfg?.Subnet) {
    const wanted = parseCidr(cfg.Subnet)!;
    for (const o of others) {
      const op = parseCidr(o);
      if (op && overlaps(op, wanted)) throw poolOverlap();
    }
    subnet = formatCidr(wanted);
  } else {
    subnet = allocateSubnet(pool, others);
  }
  const ipRange = cfg?.IPRange ? formatCidr(parseCidr(cfg.IPRange)!) : undefined;
  const base: NetworkIpam = ipRange ? { subnet, gateway: '', ipRange } : { subnet, gateway: '' };
  const gateway = cfg?.Gateway ? formatIpv4(parseIpv4(cfg.Gateway)!) : firstGateway(base);
  return { ...base, gateway };
}

function firstGateway(net: NetworkIpam): string {
  try {
    // The gateway is the first usable address of the allocation range, as libnetwork picks it.
    return allocateAddress(net, [], { serial: false });
  } catch (e) {
    if (e instanceof ShoalError) throw new ShoalError(e.code, `failed to allocate gateway: ${e.message}`);
    throw e;
  }
}
