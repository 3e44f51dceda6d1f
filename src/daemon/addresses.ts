/** Choosing the address a node advertises when the operator did not say, as Docker does. */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { ShoalError } from '../common/errors.js';
import { splitHostPort } from '../common/host-port.js';

/** The first non-internal IPv4 address of the host, or loopback when there is none. */
export function defaultAdvertiseIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Resolves an advertise address that may be an interface name (`eth0`) to its IPv4 address. */
export function resolveAdvertise(addr: string | undefined, listen: string): string {
  const candidate = addr?.trim() || splitHostPort(listen, 2377).host;
  if (!candidate || candidate === '0.0.0.0' || candidate === '::') return defaultAdvertiseIp();
  const iface = networkInterfaces()[candidate];
  if (iface) return interfaceAddress(candidate, iface);
  return splitHostPort(candidate, 2377).host;
}

/**
 * The address of an interface named as an advertise address, as Docker picks it: its one IPv4
 * address, else its one global IPv6 address; more than one is ambiguous and refused with Docker's words.
 */
export function interfaceAddress(name: string, addrs: readonly NetworkInterfaceInfo[]): string {
  const v4 = addrs.filter((a) => a.family === 'IPv4').map((a) => a.address);
  if (v4.length > 1)
    throw new ShoalError(
      'invalid_argument',
      `interface ${name} has more than one IPv4 address (${v4[0]} and ${v4[1]})`,
    );
  if (v4.length === 1) return v4[0]!;
  const v6 = addrs.filter((a) => a.family === 'IPv6' && !/^fe80:/i.test(a.address)).map((a) => a.address);
  if (v6.length > 1)
    throw new ShoalError(
      'invalid_argument',
      `interface ${name} has more than one IPv6 address (${v6[0]} and ${v6[1]})`,
    );
  if (v6.length === 1) return v6[0]!;
  throw new ShoalError('invalid_argument', `interface ${name} has no usable IPv4 or IPv6 address`);
}
