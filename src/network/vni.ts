/**
 * VXLAN network identifiers: swarmkit's overlay driver hands them out from 4096 up to 2^24-1 (the
 * ids below 4096 stay free for VLAN-style use). Pure over the VNIs already in the store.
 */
import { invalidArgument } from '../common/errors.js';
import { noMoreVnis, vniInUse } from './ipam-errors.js';

export const VNI_FIRST = 4096;
export const VNI_LAST = 2 ** 24 - 1;
/** The network option Docker shows the VNI under (`docker network inspect` Options). */
export const VXLANID_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';

/** The lowest free VNI, or the requested one when it is valid and free. */
export function allocateVni(taken: Iterable<number>, requested?: number): number {
  const used = new Set(taken);
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1 || requested > VNI_LAST)
      throw invalidArgument(`invalid vxlan id value ${requested}`);
    if (used.has(requested)) throw vniInUse(requested);
    return requested;
  }
  for (let v = VNI_FIRST; v <= VNI_LAST; v++) if (!used.has(v)) return v;
  throw noMoreVnis();
}

/** Parses the vxlanid_list option (`"4097"` or `"4097,4098"`); shoal uses the first id. */
export function parseVniOption(value: string): number {
  const first = value.split(',')[0]?.trim() ?? '';
  if (!/^[0-9]+$/.test(first)) throw invalidArgument(`invalid vxlan id value ${value}`);
  return Number(first);
}
