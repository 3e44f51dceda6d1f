/**
 * Override files (`-c base.yml -c override.yml`), merged the way docker's loader merges them, on
 * canonical documents (see normalize.ts):
 * - a service only in the override is added; a service in both is merged key by key;
 * - mappings merge (environment, labels, deploy, depends_on, sysctls, ...), the override winning;
 * - scalars and `command` / `entrypoint` / `healthcheck.test` are replaced;
 * - `ports` merge by published port and protocol (unpublished ports by target), `volumes` by target,
 *   `secrets` / `configs` by source; other lists (dns, cap_add, extra_hosts, constraints) append;
 * - `ulimits` entries are replaced whole; `logging` with the same driver merges options, another
 *   driver replaces it; a service network entry replaces the aliases;
 * - top-level networks, volumes, secrets and configs are replaced per name.
 */
import { isMap, type Raw, type RawMap } from './raw.js';

/** Default rule: maps merge recursively, lists append, anything else is replaced. */
function deepMerge(base: Raw | undefined, over: Raw): Raw {
  if (isMap(base) && isMap(over)) {
    const out: RawMap = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...over];
  return over;
}

/** Merges lists of mappings by a key: an override entry replaces the base entry with the same key. */
function mergeBy(base: Raw | undefined, over: Raw, key: (m: RawMap) => string): Raw {
  if (!Array.isArray(base) || !Array.isArray(over)) return over;
  const out = [...base];
  for (const o of over) {
    if (!isMap(o)) continue;
    const at = out.findIndex((b) => isMap(b) && key(b) === key(o));
    if (at >= 0) out[at] = o;
    else out.push(o);
  }
  return out;
}

const portKey = (m: RawMap): string =>
  m['published'] !== undefined
    ? `p${String(m['published'])}/${String(m['protocol'])}`
    : `t${String(m['target'])}/${String(m['protocol'])}`;

function mergeLogging(base: Raw | undefined, over: Raw): Raw {
  if (!isMap(base) || !isMap(over)) return over;
  const a = base['driver'];
  const b = over['driver'];
  if (a !== undefined && b !== undefined && a !== b) return over;
  return deepMerge(base, over);
}

function mergeServiceNetworks(base: Raw | undefined, over: Raw): Raw {
  if (!isMap(base) || !isMap(over)) return over;
  const out: RawMap = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    out[k] = v === null ? (b ?? null) : isMap(b) && isMap(v) ? { ...b, ...v } : v;
  }
  return out;
}

function mergeService(base: RawMap, over: RawMap): RawMap {
  const out: RawMap = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    switch (k) {
      case 'command':
      case 'entrypoint':
        out[k] = v;
        break;
      case 'healthcheck':
        out[k] = isMap(b) && isMap(v) ? { ...b, ...v } : v;
        break;
      case 'ports':
        out[k] = mergeBy(b, v, portKey);
        break;
      case 'volumes':
        out[k] = mergeBy(b, v, (m) => String(m['target']));
        break;
      case 'secrets':
      case 'configs':
        out[k] = mergeBy(b, v, (m) => String(m['source']));
        break;
      case 'ulimits':
        out[k] = isMap(b) && isMap(v) ? { ...b, ...v } : v;
        break;
      case 'logging':
        out[k] = mergeLogging(b, v);
        break;
      case 'networks':
        out[k] = mergeServiceNetworks(b, v);
        break;
      default:
        out[k] = deepMerge(b, v);
    }
  }
  return out;
}

/** Merges `over` into `base`; neither is modified. */
export function mergeDocuments(base: RawMap, over: RawMap): RawMap {
  const out: RawMap = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    if (k === 'services' && isMap(b) && isMap(v)) {
      const services: RawMap = { ...b };
      for (const [name, svc] of Object.entries(v)) {
        const prev = b[name];
        services[name] = isMap(prev) && isMap(svc) ? mergeService(prev, svc) : svc;
      }
      out[k] = services;
    } else if (isMap(b) && isMap(v)) {
      out[k] = { ...b, ...v };
    } else {
      out[k] = v;
    }
  }
  return out;
}
