/**
 * The managers' unlock key while autolock is on: `SWMKEY-1-` + base64 (no padding) of 32 random
 * bytes, the key-encryption key every manager wraps its own key material with.
 */
import type { Random } from '../../common/random.js';

const PREFIX = 'SWMKEY-1-';

export function newUnlockKey(random: Random): string {
  return `${PREFIX}${Buffer.from(random.bytes(32)).toString('base64').replace(/=+$/, '')}`;
}

/** The key-encryption key in an unlock key; undefined if it is not one. */
export function parseUnlockKey(s: string): Buffer | undefined {
  const t = s.trim();
  if (!t.startsWith(PREFIX)) return undefined;
  const k = Buffer.from(t.slice(PREFIX.length), 'base64');
  return k.length === 32 ? k : undefined;
}
