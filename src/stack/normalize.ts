/**
 * One compose file, validated and interpolated, brought to a canonical shape so that files can be
 * merged key by key and converted without caring how the user spelled things: every list-or-mapping
 * becomes a mapping, short syntaxes become long ones, `command` strings are split into words,
 * `env_file` is read into `environment`, and relative paths become absolute (against the file's own
 * directory). `x-` extension keys are dropped.
 */
import { posix } from 'node:path';
import type { KeyPath } from './errors.js';
import { parseEnvFile, type Lookup } from './interpolate.js';
import { resolveHostPath, normalizeVolumes } from './mounts.js';
import { normalizePorts } from './ports.js';
import { isMap, type Raw, type RawMap, type Reader } from './raw.js';
import { shellSplit } from './units.js';

export interface FileContext {
  r: Reader;
  /** Absolute directory of the compose file. */
  dir: string;
  lookup: Lookup;
  readFile(path: string): string;
}

/** Service keys docker's stack deploy refuses outright, with its advice. */
export const FORBIDDEN: Record<string, string> = {
  extends: 'extends is not supported by stack deploy',
  volume_driver: 'define a volume in the top-level volumes with a driver instead',
  volumes_from: 'share a volume by defining it in the top-level volumes and listing it in each service',
  cpu_quota: 'set resource limits with deploy.resources',
  cpu_shares: 'set resource limits with deploy.resources',
  cpuset: 'set resource limits with deploy.resources',
  mem_limit: 'set resource limits with deploy.resources',
  memswap_limit: 'set resource limits with deploy.resources',
};

/** Service keys the conversion reads; any other non-`x-` key is reported as ignored. */
export const SUPPORTED = new Set([
  'image',
  'command',
  'entrypoint',
  'environment',
  'env_file',
  'labels',
  'healthcheck',
  'ports',
  'networks',
  'volumes',
  'secrets',
  'configs',
  'deploy',
  'depends_on',
  'stop_grace_period',
  'stop_signal',
  'user',
  'working_dir',
  'hostname',
  'tty',
  'stdin_open',
  'read_only',
  'init',
  'cap_add',
  'cap_drop',
  'sysctls',
  'ulimits',
  'logging',
  'extra_hosts',
  'dns',
  'dns_search',
  'isolation',
  'oom_score_adj',
  'restart',
]);

/** Keys docker reports as deprecated rather than unsupported, with its explanation. */
export const DEPRECATED: Record<string, string> = {
  container_name: 'Setting the container name is not supported.',
  expose:
    "Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
};

function stringMap(r: Reader, v: Raw | undefined, path: KeyPath): RawMap | undefined {
  const d = r.dict(v, path);
  if (!d) return undefined;
  const out: RawMap = {};
  for (const [k, x] of Object.entries(d)) out[k] = x ?? '';
  return out;
}

function command(r: Reader, v: Raw | undefined, path: KeyPath): Raw | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v === 'string') return shellSplit(v) ?? r.fail(path, `has an unclosed quote in ${JSON.stringify(v)}`);
  return r.strList(v, path);
}

/** `host:ip`, `host=ip` or a mapping → `host:ip` strings (brackets around an IPv6 address dropped). */
function extraHosts(r: Reader, v: Raw | undefined, path: KeyPath): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const pairs: [string, string][] = [];
  if (isMap(v)) {
    for (const k of Object.keys(v).sort()) pairs.push([k, r.str(v[k], [...path, k]) ?? '']);
  } else {
    r.strList(v, path)!.forEach((s, i) => {
      const m = /^([^=:]+)[=:](.+)$/.exec(s);
      if (!m) r.fail([...path, i], `must be HOST:IP, not "${s}"`);
      pairs.push([m[1]!, m[2]!]);
    });
  }
  return pairs.map(([h, ip]) => `${h}:${ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip}`);
}

function fileRefs(r: Reader, v: Raw | undefined, path: KeyPath): RawMap[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return r.fail(path, 'must be a list');
  return v.map((item, i) => (typeof item === 'string' ? { source: item } : (r.map(item, [...path, i]) ?? {})));
}

function serviceNetworks(r: Reader, v: Raw | undefined, path: KeyPath): RawMap | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) {
    const out: RawMap = {};
    r.strList(v, path)!.forEach((n) => (out[n] = null));
    return out;
  }
  return r.map(v, path);
}

function dependsOn(r: Reader, v: Raw | undefined, path: KeyPath): RawMap | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) {
    const out: RawMap = {};
    r.strList(v, path)!.forEach((n) => (out[n] = { condition: 'service_started', required: true }));
    return out;
  }
  const out: RawMap = {};
  for (const [k, x] of Object.entries(r.map(v, path) ?? {})) {
    const m = r.map(x, [...path, k]) ?? {};
    out[k] = { condition: m['condition'] ?? 'service_started', required: m['required'] ?? true };
  }
  return out;
}

/** env_file contents, then `environment` over them; an empty value is taken from the variables (docker's rule). */
function environment(c: FileContext, svc: RawMap, path: KeyPath): RawMap | undefined {
  const { r } = c;
  if (svc['env_file'] === undefined && svc['environment'] === undefined) return undefined;
  const env: RawMap = {};
  const put = (k: string, v: string | null): void => {
    const fromVars = v === null || v === '' ? c.lookup(k) : undefined;
    env[k] = fromVars ?? v;
  };
  const files = svc['env_file'];
  const list = files === undefined || files === null ? [] : Array.isArray(files) ? files : [files];
  list.forEach((f, i) => {
    const at = [...path, 'env_file', ...(Array.isArray(files) ? [i] : [])];
    const m = isMap(f) ? f : { path: f };
    const rel = r.str(m['path'], at) ?? r.fail(at, 'must name a file');
    const abs = posix.isAbsolute(rel) ? rel : posix.join(c.dir, rel);
    let text: string;
    try {
      text = c.readFile(abs);
    } catch (e) {
      if (m['required'] === false) return;
      return r.fail(at, `cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    }
    const parsed = parseEnvFile(text, false, c.lookup);
    if (parsed.bad !== undefined) r.fail(at, `has an invalid variable name on line ${parsed.bad} of ${abs}`);
    for (const [k, v] of parsed.vars) put(k, v);
  });
  const d = r.dict(svc['environment'], [...path, 'environment']) ?? {};
  for (const [k, v] of Object.entries(d)) put(k, v);
  return env;
}

function healthcheck(r: Reader, v: Raw | undefined, path: KeyPath): RawMap | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  const out: RawMap = { ...m };
  const test = m['test'];
  if (typeof test === 'string') out['test'] = ['CMD-SHELL', test];
  else if (test !== undefined && test !== null) out['test'] = r.strList(test, [...path, 'test']) ?? [];
  return out;
}

function deploy(r: Reader, v: Raw | undefined, path: KeyPath): RawMap | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  const out: RawMap = { ...m };
  const labels = stringMap(r, m['labels'], [...path, 'labels']);
  if (labels) out['labels'] = labels;
  return out;
}

export function normalizeService(c: FileContext, svc: RawMap, path: KeyPath): RawMap {
  const { r } = c;
  const out: RawMap = {};
  for (const [k, v] of Object.entries(svc)) if (!k.startsWith('x-') && k !== 'env_file') out[k] = v;
  const set = (k: string, v: Raw | undefined): void => {
    if (v === undefined) delete out[k];
    else out[k] = v;
  };
  set('command', command(r, svc['command'], [...path, 'command']));
  set('entrypoint', command(r, svc['entrypoint'], [...path, 'entrypoint']));
  set('environment', environment(c, svc, path));
  set('labels', stringMap(r, svc['labels'], [...path, 'labels']));
  set('sysctls', stringMap(r, svc['sysctls'], [...path, 'sysctls']));
  set('extra_hosts', extraHosts(r, svc['extra_hosts'], [...path, 'extra_hosts']));
  set(
    'ports',
    normalizePorts(r, svc['ports'], [...path, 'ports'])?.map((p) => ({ ...p })),
  );
  set('volumes', normalizeVolumes(r, svc['volumes'], [...path, 'volumes'], c.dir, c.lookup));
  set('secrets', fileRefs(r, svc['secrets'], [...path, 'secrets']));
  set('configs', fileRefs(r, svc['configs'], [...path, 'configs']));
  set('networks', serviceNetworks(r, svc['networks'], [...path, 'networks']));
  set('depends_on', dependsOn(r, svc['depends_on'], [...path, 'depends_on']));
  set('healthcheck', healthcheck(r, svc['healthcheck'], [...path, 'healthcheck']));
  set('deploy', deploy(r, svc['deploy'], [...path, 'deploy']));
  for (const k of ['dns', 'dns_search', 'cap_add', 'cap_drop']) set(k, r.strList(svc[k], [...path, k]));
  return out;
}

/** Top-level secrets and configs: a relative `file:` becomes absolute against the file's directory. */
export function normalizePayloads(c: FileContext, v: Raw | undefined, path: KeyPath): RawMap | undefined {
  const m = c.r.map(v, path);
  if (!m) return undefined;
  const out: RawMap = {};
  for (const [k, x] of Object.entries(m)) {
    if (k.startsWith('x-')) continue;
    const def: RawMap = { ...(c.r.map(x, [...path, k]) ?? {}) };
    const file = c.r.str(def['file'], [...path, k, 'file']);
    if (file !== undefined) def['file'] = resolveHostPath(c.r, file, c.dir, c.lookup, [...path, k, 'file']);
    out[k] = def;
  }
  return out;
}

/** Top-level networks and volumes: `name:` with no body becomes an empty mapping. */
export function normalizeDefinitions(c: FileContext, v: Raw | undefined, path: KeyPath): RawMap | undefined {
  const m = c.r.map(v, path);
  if (!m) return undefined;
  const out: RawMap = {};
  for (const [k, x] of Object.entries(m)) if (!k.startsWith('x-')) out[k] = c.r.map(x, [...path, k]) ?? {};
  return out;
}
