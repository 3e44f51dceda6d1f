/**
 * How template data, plain JS values decoded from JSON, map onto Go's types: objects are
 * map[string]interface {}, arrays []interface {}, integral numbers int, other numbers float64,
 * null a nil interface and undefined Go's "no value" (an invalid reflect.Value).
 */

export type GoMap = { [key: string]: unknown };

/** A float64 that happens to be integral, e.g. the literal `3.0`: still prints and compares as a float. */
export class GoFloat {
  constructor(readonly value: number) {}
}

export function isMap(v: unknown): v is GoMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof GoFloat);
}

export type Kind = 'invalid' | 'nil' | 'bool' | 'int' | 'float' | 'string' | 'slice' | 'map';

export function kindOf(v: unknown): Kind {
  if (v === undefined) return 'invalid';
  if (v === null) return 'nil';
  if (v instanceof GoFloat) return 'float';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float';
    case 'string':
      return 'string';
  }
  return Array.isArray(v) ? 'slice' : 'map';
}

/** Go's type name as fmt's %T and error messages print it. */
export function goTypeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'slice':
      return '[]interface {}';
    case 'map':
      return 'map[string]interface {}';
  }
}

export function floatValue(v: unknown): number {
  return v instanceof GoFloat ? v.value : Number(v);
}

/** Go's template truth: non-zero numbers, non-empty strings/slices/maps, true. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'bool':
      return v === true;
    case 'int':
    case 'float':
      return floatValue(v) !== 0;
    case 'string':
      return (v as string).length > 0;
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
      return Object.keys(v as GoMap).length > 0;
  }
}

/** Go sorts string map keys bytewise when printing and ranging. */
export function sortedKeys(m: GoMap): string[] {
  const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
  return Object.keys(m).sort((a, b) => Buffer.compare(bytes(a), bytes(b)));
}

/** UTF-8 length, as Go's len on strings. */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
