/**
 * Names of what shoal creates on a host, so that cleanup can find all of it (and nothing else)
 * after a crash: links start with `shl-` (the host's macvlan link) or `shv-` (VXLAN) followed by the first 10
 * characters of the network id (Linux allows 15 characters), nftables tables start with `shoal-`.
 */
import { invalidArgument } from '../common/errors.js';

const NETWORK_ID = /^[a-z0-9]{1,64}$/;
const ID_CHARS = 10;

export const HOST_LINK_PREFIX = 'shl-';
export const VXLAN_PREFIX = 'shv-';
export const TABLE_PREFIX = 'shoal-';
/** A link name shoal made (host link or VXLAN device). */
export const OWNED_LINK = /^sh[lv]-[a-z0-9]{1,10}$/;
export const OWNED_TABLE = /^shoal-[a-z0-9-]{1,40}$/;

function idPart(networkId: string): string {
  if (!NETWORK_ID.test(networkId)) throw invalidArgument(`invalid network id ${JSON.stringify(networkId)}`);
  return networkId.slice(0, ID_CHARS);
}

export function hostLinkName(networkId: string): string {
  return HOST_LINK_PREFIX + idPart(networkId);
}

export function vxlanName(networkId: string): string {
  return VXLAN_PREFIX + idPart(networkId);
}

/** A shoal-owned nftables table name from a short suffix (e.g. `vip`, `mesh`, `egress`). */
export function tableName(suffix: string): string {
  const name = TABLE_PREFIX + suffix;
  if (!OWNED_TABLE.test(name)) throw invalidArgument(`invalid table name ${JSON.stringify(name)}`);
  return name;
}
