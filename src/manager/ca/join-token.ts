/**
 * Join tokens: `SWMTKN-1-<sha256 of the root CA certificate, base36, 50 chars>-<secret, base36, 25 chars>`.
 * The digest lets a joining node pin the CA; the secret decides the role it joins with.
 */
import { createHash } from 'node:crypto';
import type { Random } from '../../common/random.js';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

function base36(bytes: Uint8Array, width: number): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let s = '';
  while (n > 0n) {
    s = ALPHABET[Number(n % 36n)] + s;
    n /= 36n;
  }
  return s.padStart(width, '0').slice(-width);
}

export function caDigest(rootCaCert: string): string {
  return base36(createHash('sha256').update(rootCaCert).digest(), 50);
}

export function newJoinToken(rootCaCert: string, random: Random): string {
  return `SWMTKN-1-${caDigest(rootCaCert)}-${base36(random.bytes(16), 25)}`;
}

export interface ParsedToken {
  readonly digest: string;
  readonly secret: string;
}

export function parseJoinToken(token: string): ParsedToken | undefined {
  const m = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/.exec(token.trim());
  return m ? { digest: m[1]!, secret: m[2]! } : undefined;
}
