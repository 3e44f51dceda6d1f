/**
 * Checks a join token's secret in constant time and slows down guessing: an address that presented
 * too many wrong tokens recently is refused for a while, before its token is even looked at.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ShoalError } from '../common/errors.js';
import type { NodeRole } from '../common/node-role.js';
import { INVALID_JOIN_TOKEN } from '../cluster/join.js';

/** Wrong tokens allowed from one address within the window. */
const MAX_FAILURES = 10;
const WINDOW_MS = 60_000;
/** Addresses remembered at most (the oldest are forgotten first). */
const MAX_ADDRESSES = 10_000;

export class JoinLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The role the token grants; throws Docker's error for a wrong token, or a refusal while `addr`
   * is held back. Without an address (a join another manager forwarded, already checked there) there is no limit.
   */
  check(token: string, current: { Worker: string; Manager: string }, addr: string | undefined): NodeRole {
    const role = sameSecret(token, current.Manager)
      ? 'manager'
      : sameSecret(token, current.Worker)
        ? 'worker'
        : undefined;
    if (addr === undefined) {
      if (role) return role;
      throw new ShoalError('invalid_argument', INVALID_JOIN_TOKEN);
    }
    const t = this.now();
    const recent = (this.failures.get(addr) ?? []).filter((at) => t - at < WINDOW_MS);
    if (recent.length >= MAX_FAILURES)
      throw new ShoalError('unavailable', `too many failed join attempts from ${addr}; try again later`);
    if (role) return role;
    this.failures.delete(addr);
    this.failures.set(addr, [...recent, t]);
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
    throw new ShoalError('invalid_argument', INVALID_JOIN_TOKEN);
  }
}

/** Compares two tokens without leaking, through timing, how much of a guess was right. */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s.trim()).digest();
  return b !== '' && timingSafeEqual(h(a), h(b));
}
