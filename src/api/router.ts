/** A small router: method + path pattern → handler, with Docker's optional `/vX.Y` prefix stripped. */
import type { IncomingMessage } from 'node:http';
import { badRequest } from './errors.js';
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
  body<T>(): Promise<T>;
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
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? '')));
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
  return (am! - bm!) || (an! - bn!);
}

export async function readJsonBody<T>(req: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw badRequest(`invalid JSON body: ${(e as Error).message}`);
  }
}

/** `?version=` of an update, parsed as Docker does (with Go's error text). */
export function parseVersionParam(query: URLSearchParams, what: string): number {
  const v = query.get('version') ?? '';
  if (!/^\d+$/.test(v)) throw badRequest(`invalid ${what} version '${v}': strconv.ParseUint: parsing "${v}": invalid syntax`);
  return Number(v);
}

export function boolParam(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  return v !== null && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}
