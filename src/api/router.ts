/** A small router: method + path pattern → handler, with Docker's optional `/vX.Y` prefix stripped. */
import type { IncomingMessage } from 'node:http';
import { ShoalError } from '../common/errors.js';
import { MAX_JSON_DEPTH, withinDepth } from '../cluster/messages.js';
import { badRequest } from './errors.js';
import type { GoType } from './go-json/go-type.js';
import type { Reply } from './reply.js';

export interface Ctx {
  /** GET for a HEAD request too. */
  readonly method: string;
  readonly res: Reply;
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly path: string;
  /** The request's API version (from its path prefix), or undefined when unversioned. */
  readonly version: string | undefined;
  /** The JSON body decoded as the Go type `type` (Docker's decoding: see go-json/decode.ts). */
  json<T>(type: GoType): Promise<T>;
  /** The JSON body as sent (for a request relayed to the engine unchanged). */
  raw(): Promise<unknown>;
}

/** Resolves false to hand the request to the runtime engine instead (nothing written, body unread). */
export type Handler = (ctx: Ctx) => Promise<void | false>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  private routes: Route[] = [];

  on(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' +
        path.replace(/\{(\w+)\}/g, (_m, k: string) => {
          keys.push(k);
          return k === 'name' ? '(.+?)' : '([^/]+)';
        }) +
        '/?$',
    );
    this.routes.push({ method, pattern, keys, handler });
    return this;
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    for (const r of this.routes) {
      if (r.method !== method && !(r.method === 'GET' && method === 'HEAD')) continue;
      const m = r.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      // The path was decoded once already (request-path.ts).
      r.keys.forEach((k, i) => (params[k] = m[i + 1] ?? ''));
      return { handler: r.handler, params };
    }
    return undefined;
  }
}

/** Splits `/v1.41/services` into version `1.41` and path `/services`. */
export function splitVersion(rawPath: string): { version: string | undefined; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(rawPath);
  return m ? { version: m[1], path: m[2]! } : { version: undefined, path: rawPath };
}

export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am! - bm! || an! - bn!;
}

/** The largest JSON body shoal reads (a service spec with many secrets, mounts and labels fits easily). */
export const MAX_JSON_BODY = 4 * 1024 * 1024;
/** How long a client may take to send a body. */
const BODY_TIMEOUT_MS = 30_000;

/**
 * Reads a request's JSON body: at most MAX_JSON_BODY bytes (413 beyond), within BODY_TIMEOUT_MS,
 * valid JSON nesting at most MAX_JSON_DEPTH levels (400 otherwise); an empty body is `{}`.
 */
export async function readJsonBody<T>(req: IncomingMessage): Promise<T> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_JSON_BODY) throw new ShoalError('too_large', `request body larger than ${MAX_JSON_BODY} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  const timer = setTimeout(() => req.destroy(new Error('request body not received in time')), BODY_TIMEOUT_MS);
  try {
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_JSON_BODY) throw new ShoalError('too_large', `request body larger than ${MAX_JSON_BODY} bytes`);
      chunks.push(c as Buffer);
    }
  } catch (e) {
    if (e instanceof ShoalError) throw e;
    throw badRequest(`reading the request body failed: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  return parseJsonBody<T>(Buffer.concat(chunks).toString('utf8'));
}

export function parseJsonBody<T>(text: string): T {
  if (!text.trim()) return {} as T;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw badRequest(`invalid JSON body: ${(e as Error).message}`);
  }
  if (!withinDepth(v)) throw badRequest(`invalid JSON body: nested deeper than ${MAX_JSON_DEPTH} levels`);
  return v as T;
}

/** `?version=` of an update, parsed as Docker does (with Go's error text). */
export function parseVersionParam(query: URLSearchParams, what: string): number {
  const v = query.get('version') ?? '';
  if (!/^\d+$/.test(v))
    throw badRequest(`invalid ${what} version '${v}': strconv.ParseUint: parsing "${v}": invalid syntax`);
  return Number(v);
}

/** A boolean query parameter, read as Go's strconv.ParseBool reads it; absent or empty is false. */
export function boolParam(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === '') return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw badRequest(`invalid value for ${name}: ${v}: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}
