/**
 * Who may see the visualizer. On loopback anyone on the host may (as with the metrics port); beyond
 * loopback the page shows the whole cluster's layout, so the daemon refuses to listen there without
 * a token, and every request must carry it: `Authorization: Bearer TOKEN`, or `?token=TOKEN` once,
 * which sets a cookie for the page's own requests (EventSource cannot send headers).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export const COOKIE = 'shoal_ui';

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token the request carries, from the header, the query or the cookie. */
function presented(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  const q = url.searchParams.get('token');
  if (q) return q;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** Whether the request may pass: always without a token configured, else only with it. */
export function allowed(token: string | undefined, req: IncomingMessage, url: URL): boolean {
  if (token === undefined) return true;
  const t = presented(req, url);
  return t !== undefined && same(t, token);
}

/** Refuses a listener beyond loopback without a token (the docs say why). */
export function checkExposure(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token)
    throw new Error(
      `--ui-addr ${host} listens beyond loopback: set --ui-token (or SHOAL_UI_TOKEN) so only holders of the token see the cluster`,
    );
  if (token !== undefined && token.length < 16) throw new Error('--ui-token must be at least 16 characters');
}
