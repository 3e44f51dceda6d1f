/**
 * IPv4 addresses and prefixes as plain numbers: the IPAM works on integers (fast, exact, easy to
 * compare and sort) and turns them back into dotted quads only at its edges. IPv6 is out of scope:
 * Docker's overlays are IPv4 unless --ipv6, which shoal does not offer.
 */

/** An IPv4 prefix; `base` is the unsigned 32-bit address as written (it may have host bits set). */
export interface Ipv4Prefix {
  readonly base: number;
  readonly bits: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a dotted quad strictly (no leading zeros, as Go's netip); undefined when invalid. */
export function parseIpv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `a.b.c.d/n`; host bits are kept so callers can say "it should be ..." like Docker. */
export function parseCidr(s: string): Ipv4Prefix | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const base = parseIpv4(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (base === undefined || !/^(0|[1-9][0-9]?)$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > 32) return undefined;
  return { base, bits };
}

/** The number of addresses a prefix spans (2^(32-bits)). */
export function prefixSize(bits: number): number {
  return 2 ** (32 - bits);
}

/** The prefix with its host bits cleared. */
export function masked(p: Ipv4Prefix): Ipv4Prefix {
  const size = prefixSize(p.bits);
  return { base: p.base - (p.base % size), bits: p.bits };
}

export function isMasked(p: Ipv4Prefix): boolean {
  return p.base % prefixSize(p.bits) === 0;
}

export function firstAddress(p: Ipv4Prefix): number {
  return masked(p).base;
}

export function lastAddress(p: Ipv4Prefix): number {
  return masked(p).base + prefixSize(p.bits) - 1;
}

export function contains(p: Ipv4Prefix, ip: number): boolean {
  return ip >= firstAddress(p) && ip <= lastAddress(p);
}

export function overlaps(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  return firstAddress(a) <= lastAddress(b) && firstAddress(b) <= lastAddress(a);
}

export function formatCidr(p: Ipv4Prefix): string {
  return `${formatIpv4(p.base)}/${p.bits}`;
}

/** Sort order: by first address, then the wider prefix first. */
export function comparePrefix(a: Ipv4Prefix, b: Ipv4Prefix): number {
  return firstAddress(a) - firstAddress(b) || a.bits - b.bits;
}
