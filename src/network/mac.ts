/**
 * Docker's bridge driver derives a container's MAC from its IPv4 address (02:42 followed by the
 * four address bytes). shoal relies on it: every host can program FDB and neighbour entries for a
 * remote task from its allocated IP alone, without asking the remote host.
 */
import { createHash } from 'node:crypto';
import { invalidArgument } from '../common/errors.js';
import { parseIpv4 } from './cidr.js';

export function macForIp(ip: string): string {
  const n = parseIpv4(ip);
  if (n === undefined) throw invalidArgument(`address ${ip} is not a valid IP address`);
  const bytes = [0x02, 0x42, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * An overlay host link's own MAC (the gateway's, as containers see it): fixed, the same on every
 * host, derived from the network id (02:53 followed by four hash bytes, never a container's 02:42),
 * so a link made anew keeps the MAC the containers' neighbour entries for the gateway hold; a new
 * random one would stop their DNS (and egress) until the entries expire, about 30 s.
 */
export function hostLinkMacFor(networkId: string): string {
  const h = createHash('sha256').update(networkId).digest();
  return [0x02, 0x53, h[0]!, h[1]!, h[2]!, h[3]!].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function isMac(s: string): boolean {
  return MAC.test(s);
}
