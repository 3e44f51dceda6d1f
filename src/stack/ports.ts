/**
 * Service ports in their one canonical form (compose's long syntax), from the short syntax
 * `[IP:][HOST:]CONTAINER[/PROTO]` with ranges (`8000-8001:80-81`) or a long-syntax entry.
 */
import type { KeyPath } from './errors.js';
import { isMap, type Raw, type Reader, type RawMap } from './raw.js';

export interface PortEntry {
  target: number;
  published?: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  mode: 'ingress' | 'host';
}

const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;

function protocolOf(r: Reader, p: string, path: KeyPath): PortEntry['protocol'] {
  const proto = PROTOCOLS.find((x) => x === p.toLowerCase());
  return proto ?? r.fail(path, `has an unknown protocol "${p}" (tcp, udp or sctp)`);
}

function range(r: Reader, s: string, path: KeyPath): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo < 1 || hi > 65535 || hi < lo) r.fail(path, `has an invalid port or port range "${s}"`);
  return [lo, hi];
}

/** One short-syntax string → one entry per port of its range. */
export function parseShortPort(r: Reader, spec: string, path: KeyPath): PortEntry[] {
  const slash = spec.lastIndexOf('/');
  const protocol = slash >= 0 ? protocolOf(r, spec.slice(slash + 1), path) : 'tcp';
  let rest = slash >= 0 ? spec.slice(0, slash) : spec;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']:');
    if (end < 0) r.fail(path, `has an invalid host IP in "${spec}"`);
    rest = rest.slice(end + 2);
  }
  const parts = rest.split(':');
  const container = parts[parts.length - 1]!;
  const host = parts.length >= 2 ? parts[parts.length - 2]! : '';
  const [clo, chi] = range(r, container, path);
  if (host === '') {
    return Array.from({ length: chi - clo + 1 }, (_, i) => ({ target: clo + i, protocol, mode: 'ingress' as const }));
  }
  const [hlo, hhi] = range(r, host, path);
  if (hhi - hlo !== chi - clo) {
    r.fail(path, `publishes ${hhi - hlo + 1} host port(s) for ${chi - clo + 1} container port(s) in "${spec}"`);
  }
  return Array.from({ length: chi - clo + 1 }, (_, i) => ({
    target: clo + i,
    published: hlo + i,
    protocol,
    mode: 'ingress' as const,
  }));
}

/** The `ports:` list of a service, every entry in long form. */
export function normalizePorts(r: Reader, v: Raw | undefined, path: KeyPath): PortEntry[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return r.fail(path, 'must be a list');
  const out: PortEntry[] = [];
  v.forEach((item, i) => {
    const at = [...path, i];
    if (typeof item === 'number') out.push(...parseShortPort(r, String(item), at));
    else if (typeof item === 'string') out.push(...parseShortPort(r, item, at));
    else if (isMap(item)) out.push(...longPort(r, item, at));
    else r.fail(at, 'must be a number, a string or a mapping');
  });
  return out;
}

function longPort(r: Reader, m: RawMap, path: KeyPath): PortEntry[] {
  const protocol = protocolOf(r, r.str(m['protocol'], [...path, 'protocol']) ?? 'tcp', [...path, 'protocol']);
  const modeText = r.str(m['mode'], [...path, 'mode']) ?? 'ingress';
  if (modeText !== 'ingress' && modeText !== 'host') r.fail([...path, 'mode'], 'must be one of: ingress, host');
  const mode: PortEntry['mode'] = modeText;
  const target = r.str(m['target'], [...path, 'target']);
  if (target === undefined) return r.fail([...path, 'target'], 'is required');
  const [tlo, thi] = range(r, target, [...path, 'target']);
  if (tlo !== thi) r.fail([...path, 'target'], 'must be a single port');
  const published = r.str(m['published'], [...path, 'published']);
  if (published === undefined || published === '') return [{ target: tlo, protocol, mode }];
  const [plo, phi] = range(r, published, [...path, 'published']);
  if (plo !== phi) r.fail([...path, 'published'], 'must be a single port (swarm publishes one port per target)');
  return [{ target: tlo, published: plo, protocol, mode }];
}
