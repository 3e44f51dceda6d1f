/**
 * Docker's `?filters=` argument: URL-encoded JSON `{"key":{"value":true}}` (or the legacy
 * `{"key":["value"]}`), with each endpoint's accepted keys; an unknown key is a 400.
 */
import { badRequest } from './errors.js';

export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | null, allowed: readonly string[]): Filters {
  const out: Filters = new Map();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid filter: ${raw}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest(`invalid filter: ${raw}`);
  for (const [key, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (!allowed.includes(key)) throw badRequest(`invalid filter '${key}'`);
    let values: string[];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) values = v;
    else if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'boolean')) {
      values = Object.entries(v as Record<string, boolean>)
        .filter(([, on]) => on)
        .map(([k]) => k);
    } else throw badRequest(`invalid filter: ${raw}`);
    out.set(key, values);
  }
  return out;
}

/** True when the filter is absent or any of its values matches. */
export function matchAny(filters: Filters, key: string, test: (value: string) => boolean): boolean {
  const values = filters.get(key);
  if (!values || values.length === 0) return true;
  return values.some(test);
}

/** `label=key` (has the label) or `label=key=value`. */
export function labelsMatch(filters: Filters, key: string, labels: Record<string, string> | undefined): boolean {
  const values = filters.get(key);
  if (!values || values.length === 0) return true;
  return values.every((v) => {
    const i = v.indexOf('=');
    // Own keys only: `label=constructor` must not match every object through its prototype.
    if (i < 0) return labels !== undefined && Object.hasOwn(labels, v);
    const k = v.slice(0, i);
    return labels !== undefined && Object.hasOwn(labels, k) && labels[k] === v.slice(i + 1);
  });
}
