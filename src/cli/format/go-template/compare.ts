/** Go's template comparison functions eq, ne, lt, le, gt, ge, with their error messages. */
import { FuncError } from './func-error.js';
import { floatValue, kindOf, type Kind } from './values.js';

type Basic = 'bool' | 'int' | 'float' | 'string';
const isBasic = (k: Kind): k is Basic => k === 'bool' || k === 'int' || k === 'float' || k === 'string';
/** nil and no value both act as Go's invalid reflect.Value once the interface is unwrapped. */
const isNilish = (k: Kind): boolean => k === 'invalid' || k === 'nil';

function basicKind(v: unknown): Basic {
  const k = kindOf(v);
  if (!isBasic(k)) throw new FuncError('invalid type for comparison');
  return k;
}

function same(a: unknown, b: unknown, k: Basic): boolean {
  if (k === 'int') return BigInt(a as number | bigint) === BigInt(b as number | bigint);
  if (k === 'float') return floatValue(a) === floatValue(b);
  return a === b;
}

function less(a: unknown, b: unknown, k: Basic): boolean {
  if (k === 'bool') throw new FuncError('invalid type for comparison');
  if (k === 'int') return BigInt(a as number | bigint) < BigInt(b as number | bigint);
  if (k === 'float') return floatValue(a) < floatValue(b);
  return Buffer.compare(Buffer.from(a as string), Buffer.from(b as string)) < 0; // Go compares bytes
}

/** eq a b c…: a == b || a == c …; nil compares unequal (not an error) to anything but nil. */
export function eq(a: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new FuncError('missing argument for comparison');
  const k1 = kindOf(a);
  for (const b of rest) {
    const k2 = kindOf(b);
    if (isNilish(k1) || isNilish(k2)) {
      if (isNilish(k1) && isNilish(k2)) return true;
      continue;
    }
    if (k1 !== k2) throw new FuncError('incompatible types for comparison');
    if (!isBasic(k1))
      throw new FuncError(`non-comparable type ${k1 === 'map' ? 'map[string]interface {}' : '[]interface {}'}`);
    if (same(a, b, k1)) return true;
  }
  return false;
}

export function lt(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 !== k2) throw new FuncError('incompatible types for comparison');
  return less(a, b, k1);
}

export const ne = (a: unknown, b: unknown): boolean => !eq(a, b);
export const le = (a: unknown, b: unknown): boolean => lt(a, b) || eq(a, b);
export const gt = (a: unknown, b: unknown): boolean => !le(a, b);
export const ge = (a: unknown, b: unknown): boolean => !lt(a, b);
