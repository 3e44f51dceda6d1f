/**
 * Decodes a parsed JSON body into a Go type's shape, as `encoding/json` does: object keys match
 * struct fields exactly or else case-insensitively, unknown keys are dropped, `null` leaves a field
 * unset, and the first type mismatch fails with Go's message (which the Docker daemon returns as a
 * 400). The result carries the canonical field names, so everything after the edge sees one form.
 */
import { ShoalError } from '../../common/errors.js';
import { typeName, type GoType } from './go-type.js';

/** Go's `UnmarshalTypeError` text. */
class TypeMismatch extends Error {}

interface Where {
  /** The innermost struct being decoded (Go names it in the message). */
  struct: string;
  /** Go field names from the root. */
  fields: string[];
}

export function decodeGo<T>(value: unknown, type: GoType): T {
  try {
    // `null` (or nothing) decodes to the zero value, as into a Go variable: an empty struct here.
    return (decode(value, type, { struct: '', fields: [] }) ?? zero(type)) as T;
  } catch (e) {
    if (e instanceof TypeMismatch) throw new ShoalError('invalid_argument', e.message);
    throw e;
  }
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object'
    ? 'object'
    : typeof v === 'number'
      ? 'number'
      : typeof v === 'boolean'
        ? 'bool'
        : 'string';
}

function mismatch(value: string, t: GoType, at: Where): TypeMismatch {
  const into = at.struct || at.fields.length ? `Go struct field ${at.struct}.${at.fields.join('.')}` : 'Go value';
  return new TypeMismatch(`json: cannot unmarshal ${value} into ${into} of type ${typeName(t)}`);
}

function decode(v: unknown, t: GoType, at: Where): unknown {
  if (v === null || v === undefined) return undefined;
  switch (t.kind) {
    case 'any':
      return v;
    case 'string':
      if (typeof v !== 'string') throw mismatch(jsonKind(v), t, at);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw mismatch(jsonKind(v), t, at);
      return v;
    case 'int':
      if (typeof v !== 'number') throw mismatch(jsonKind(v), t, at);
      if (!Number.isInteger(v) || v < t.min || v > t.max) throw mismatch(`number ${String(v)}`, t, at);
      return v;
    case 'float':
      if (typeof v !== 'number') throw mismatch(jsonKind(v), t, at);
      return v;
    case 'slice': {
      if (!Array.isArray(v)) throw mismatch(jsonKind(v), t, at);
      return v.map((x) => decode(x, t.elem, at) ?? zero(t.elem));
    }
    case 'map': {
      if (typeof v !== 'object' || Array.isArray(v)) throw mismatch(jsonKind(v), t, at);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const d = decode(x, t.value, at);
        // Assigned as own data properties, so `__proto__` is a key like any other.
        Object.defineProperty(out, k, {
          value: d ?? zero(t.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    case 'struct': {
      if (typeof v !== 'object' || Array.isArray(v)) throw mismatch(jsonKind(v), t, at);
      const out: Record<string, unknown> = {};
      const names = Object.keys(t.fields);
      for (const [k, x] of Object.entries(v)) {
        const field = names.includes(k) ? k : names.find((n) => n.toLowerCase() === k.toLowerCase());
        if (!field) continue;
        const d = decode(x, t.fields[field]!, { struct: t.name.replace(/^.*\./, ''), fields: [...at.fields, field] });
        if (d !== undefined) out[field] = d;
      }
      return out;
    }
  }
}

/** What a `null` element of a slice or map becomes: Go's zero value of its type. */
function zero(t: GoType): unknown {
  switch (t.kind) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'int':
    case 'float':
      return 0;
    case 'struct':
      return {};
    default:
      return null;
  }
}
