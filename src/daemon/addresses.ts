/** Choosing the address a node advertises when the operator did not say, as Docker does. */
import { networkInterfaces } from 'node:os';
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
  const v4 = iface?.find((a) => a.family === 'IPv4');
  if (v4) return v4.address;
  return splitHostPort(candidate, 2377).host;
}
