/**
 * Docker's bridge driver derives a container's MAC from its IPv4 address (02:42 followed by the
 * four address bytes). shoal relies on it: every host can program FDB and neighbour entries for a
 * remote task from its allocated IP alone, without asking the remote host.
 */
import { invalidArgument } from '../common/errors.js';
import { parseIpv4 } from './cidr.js';

export function macForIp(ip: string): string {
  const n = parseIpv4(ip);
  if (n === undefined) throw invalidArgument(`address ${ip} is not a valid IP address`);
  const bytes = [0x02, 0x42, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function isMac(s: string): boolean {
  return MAC.test(s);
}
