/**
 * One reading of a request's path, used both to route it and to proxy it: %-escapes decoded once,
 * dot segments resolved, repeated slashes collapsed. Routing on one form and proxying another would
 * let `/v1.41/%73ecrets` past the router to the engine's own swarm API.
 */
import path from 'node:path';
import { ShoalError } from '../common/errors.js';

export interface RequestPath {
  /** The decoded, normalised path (`/v1.41/services/web`). */
  path: string;
  /** The query string with its `?`, as sent (or empty). */
  search: string;
  /** The path re-encoded for the runtime engine, with the query. */
  url: string;
}

export function normalizeRequestPath(rawUrl: string): RequestPath {
  const q = rawUrl.indexOf('?');
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const search = q < 0 ? '' : rawUrl.slice(q);
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw new ShoalError('invalid_argument', `malformed URL escape in ${JSON.stringify(rawPath.slice(0, 200))}`);
  }
  if (decoded.includes('\0')) throw new ShoalError('invalid_argument', 'a NUL byte in the URL path');
  const normal = path.posix.normalize(`/${decoded}`).replace(/\/{2,}/g, '/');
  return { path: normal, search, url: encodeURI(normal) + search };
}

/** Paths shoal answers itself and never passes to the runtime engine, whatever the method. */
export const SWARM_PATHS = /^\/(swarm|nodes|services|tasks|secrets|configs)(\/|$)/;

/** Connections the engine may take over (attach, exec, BuildKit sessions); no other path may upgrade. */
const HIJACK_PATHS = [/^\/containers\/[^/]+\/attach(\/ws)?$/, /^\/exec\/[^/]+\/start$/, /^\/session$/, /^\/grpc$/];

export function mayUpgrade(pathWithoutVersion: string): boolean {
  return HIJACK_PATHS.some((r) => r.test(pathWithoutVersion));
}
