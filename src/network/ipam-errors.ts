/**
 * Docker's IPAM error messages (moby libnetwork ipamapi, api/types/network ValidateIPAM, daemon
 * swarm init validation), so `docker network create` and `swarm init` fail with the text users know.
 * Each maps to the HTTP status Docker answers with.
 */
import { ShoalError } from '../common/errors.js';

/** libnetwork's ErrPoolOverlap as RequestPool wraps it (a Forbidden error: HTTP 403). */
export const poolOverlap = (): ShoalError =>
  new ShoalError('permission_denied', 'invalid pool request: Pool overlaps with other one on this address space');

/** libnetwork's ErrNoMoreSubnets: the default address pools are used up. */
export const noMoreSubnets = (): ShoalError =>
  new ShoalError('invalid_argument', 'all predefined address pools have been fully subnetted');

/** libnetwork's ErrNoAvailableIPs (an Unavailable error: HTTP 503). */
export const noAvailableIps = (): ShoalError => new ShoalError('unavailable', 'no available addresses on this pool');

/** libnetwork's ErrIPAlreadyAllocated (Forbidden: HTTP 403). */
export const addressInUse = (): ShoalError => new ShoalError('permission_denied', 'Address already in use');

/** libnetwork's ErrIPOutOfRange. */
export const addressOutOfRange = (): ShoalError =>
  new ShoalError('invalid_argument', 'requested address is out of range');

/** swarmkit's ErrInvalidAddress. */
export const invalidAddress = (address: string): ShoalError =>
  new ShoalError('invalid_argument', `address ${address} is not a valid IP address`);

/** Every VXLAN id from 4096 up to 2^24-1 is taken (swarmkit's overlay id allocator is exhausted). */
export const noMoreVnis = (): ShoalError =>
  new ShoalError('unavailable', 'could not obtain vxlan id: no more VXLAN ids available');

export const vniInUse = (vni: number): ShoalError =>
  new ShoalError('permission_denied', `vxlan id ${vni} is already in use`);
