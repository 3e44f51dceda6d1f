/**
 * Raft's timers on a `Clock`, so the simulator can run whole RaftNodes on virtual time (same seed,
 * same run). The process clock keeps the event loop alive while a timer is pending, as a bare
 * setTimeout does: a caller awaiting leadership must not see the process exit under it.
 */
import type { Clock } from '../common/clock.js';

export const processClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Calls `fn` every `ms` (at start + k·ms, so lateness does not accumulate); returns the cancel. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let next = clock.now() + ms;
  let cancel = (): void => undefined;
  let stopped = false;
  const arm = (): void => {
    cancel = clock.setTimer(Math.max(0, next - clock.now()), () => {
      if (stopped) return;
      next += ms;
      if (next <= clock.now()) next = clock.now() + ms; // far behind (a blocked loop): no burst of ticks
      arm();
      fn();
    });
  };
  arm();
  return () => {
    stopped = true;
    cancel();
  };
}
