/**
 * Service volumes in their one canonical form (compose's long syntax), from the short syntax
 * `[SOURCE:]TARGET[:MODE]`. A source starting with `/`, `.` or `~` is a bind mount, resolved
 * against the compose file's directory (`~` from HOME); any other source names a volume.
 */
import { posix } from 'node:path';
import type { KeyPath } from './errors.js';
import type { Lookup } from './interpolate.js';
import { isMap, type Raw, type RawMap, type Reader } from './raw.js';

const PROPAGATION = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];

function shortVolume(r: Reader, spec: string, path: KeyPath): RawMap {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) r.fail(path, `is not a valid volume "${spec}"`);
  if (parts.length === 1) return { type: 'volume', target: parts[0]! };
  const [source, target, mode] = parts as [string, string, string | undefined];
  const bind = /^[/.~]/.test(source);
  const out: RawMap = { type: bind ? 'bind' : 'volume', source, target };
  for (const opt of mode ? mode.split(',') : []) {
    if (opt === 'ro') out['read_only'] = true;
    else if (opt === 'rw') out['read_only'] = false;
    else if (opt === 'nocopy' && !bind) out['volume'] = { nocopy: true };
    else if (PROPAGATION.includes(opt) && bind) out['bind'] = { propagation: opt };
    else if (opt !== 'z' && opt !== 'Z') r.fail(path, `has an unknown mode "${opt}" in "${spec}"`);
  }
  return out;
}

/** Absolute bind source: `~` from HOME, relative to `dir`. */
export function resolveHostPath(r: Reader, source: string, dir: string, lookup: Lookup, path: KeyPath): string {
  let p = source;
  if (p === '~' || p.startsWith('~/')) {
    const home = lookup('HOME');
    if (home === undefined) r.fail(path, 'starts with ~ but HOME is not set');
    p = home + p.slice(1);
  }
  return posix.isAbsolute(p) ? posix.normalize(p) : posix.join(dir, p);
}

export function normalizeVolumes(
  r: Reader,
  v: Raw | undefined,
  path: KeyPath,
  dir: string,
  lookup: Lookup,
): RawMap[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return r.fail(path, 'must be a list');
  return v.map((item, i) => {
    const at = [...path, i];
    let m: RawMap;
    if (typeof item === 'string') m = shortVolume(r, item, at);
    else if (isMap(item)) m = { ...item };
    else return r.fail(at, 'must be a string or a mapping');
    if (m['type'] === 'bind') {
      const source = r.str(m['source'], [...at, 'source']);
      if (!source) return r.fail([...at, 'source'], 'is required for a bind mount');
      m['source'] = resolveHostPath(r, source, dir, lookup, [...at, 'source']);
    }
    return m;
  });
}
