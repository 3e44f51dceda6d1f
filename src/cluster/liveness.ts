/**
 * A peer that dies or is cut off sends no reset, and TCP alone notices only after minutes. Every
 * HTTP/2 connection between nodes is pinged each second; one that does not answer within 2.5 s is
 * destroyed, which fails its calls and ends its streams, so callers move on at once.
 */
import type http2 from 'node:http2';

const PING_EVERY_MS = 1000;
const PING_TIMEOUT_MS = 2500;

export function keepAlive(session: http2.Http2Session): void {
  const pinger = setInterval(() => {
    if (session.destroyed || session.closed || session.connecting) return;
    const timeout = setTimeout(() => session.destroy(new Error('the peer stopped answering')), PING_TIMEOUT_MS);
    try {
      session.ping((err) => {
        clearTimeout(timeout);
        if (err && !session.destroyed) session.destroy(err);
      });
    } catch {
      clearTimeout(timeout);
    }
  }, PING_EVERY_MS);
  pinger.unref();
  session.on('close', () => clearInterval(pinger));
}
