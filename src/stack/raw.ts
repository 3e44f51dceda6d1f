/**
 * A compose document as plain data (what YAML and JSON can hold), with small typed readers. The
 * schema has already vouched for the shapes when these run; the readers still check, so a wrong guess
 * shows up as a StackFileError rather than a crash.
 */
import { StackFileError, type KeyPath } from './errors.js';

export type Raw = string | number | boolean | null | Raw[] | RawMap;
export interface RawMap {
  [key: string]: Raw;
}

export function isMap(v: Raw | undefined): v is RawMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turns what the YAML parser produced into Raw, refusing anything JSON could not hold. */
export function toRaw(file: string, v: unknown, path: (string | number)[] = []): Raw {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new StackFileError(file, path, 'must be a finite number');
    return v;
  }
  if (typeof v === 'bigint') throw new StackFileError(file, path, 'is too large a number');
  if (Array.isArray(v)) return v.map((x: unknown, i) => toRaw(file, x, [...path, i]));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: RawMap = {};
    for (const [k, x] of Object.entries(v)) out[k] = toRaw(file, x, [...path, k]);
    return out;
  }
  throw new StackFileError(file, path, 'holds a value that is not plain data');
}

/** Reads values of one file; every failure names that file and the key path. */
export class Reader {
  constructor(readonly file: string) {}

  fail(path: KeyPath, reason: string): never {
    throw new StackFileError(this.file, path, reason);
  }

  str(v: Raw | undefined, path: KeyPath): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.fail(path, 'must be a string');
  }

  int(v: Raw | undefined, path: KeyPath, min = 0): number | undefined {
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && /^[+-]?\d+$/.test(v.trim()) ? Number(v.trim()) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) return this.fail(path, 'must be an integer');
    if (n < min) return this.fail(path, `must be ${min} or more`);
    return n;
  }

  num(v: Raw | undefined, path: KeyPath): number | undefined {
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) return this.fail(path, 'must be a number');
    return n;
  }

  /** YAML 1.1 spellings too, as docker accepts them after interpolation (`${DEBUG:-yes}`). */
  bool(v: Raw | undefined, path: KeyPath): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') {
      const s = v.toLowerCase();
      if (['y', 'yes', 'true', 'on'].includes(s)) return true;
      if (['n', 'no', 'false', 'off'].includes(s)) return false;
    }
    return this.fail(path, 'must be a boolean');
  }

  strList(v: Raw | undefined, path: KeyPath): string[] | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v)) return this.fail(path, 'must be a list of strings');
    return v.map((x, i) => this.str(x, [...path, i]) ?? this.fail([...path, i], 'must be a string'));
  }

  map(v: Raw | undefined, path: KeyPath): RawMap | undefined {
    if (v === undefined || v === null) return undefined;
    if (!isMap(v)) return this.fail(path, 'must be a mapping');
    return v;
  }

  /** A `list_or_dict` value: `KEY=VAL` strings or a mapping. A key without a value maps to null. */
  dict(v: Raw | undefined, path: KeyPath, sep = '='): Record<string, string | null> | undefined {
    if (v === undefined || v === null) return undefined;
    const out: Record<string, string | null> = {};
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        const s = this.str(x, [...path, i]) ?? '';
        const at = s.indexOf(sep);
        if (at < 0) out[s] = null;
        else out[s.slice(0, at)] = s.slice(at + sep.length);
      });
      return out;
    }
    for (const [k, x] of Object.entries(this.map(v, path) ?? {}))
      out[k] = x === null ? null : this.str(x, [...path, k])!;
    return out;
  }
}
