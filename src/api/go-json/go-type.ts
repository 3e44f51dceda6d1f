/**
 * The Go types of the Engine API's request bodies, as descriptors: enough of Go's type system to
 * decode JSON the way the Docker daemon's `encoding/json` does (field names matched
 * case-insensitively, unknown fields ignored, type mismatches refused with Go's words).
 */

export type GoType =
  | { readonly kind: 'string'; readonly name: string }
  | { readonly kind: 'bool' }
  | { readonly kind: 'int'; readonly name: string; readonly min: number; readonly max: number }
  | { readonly kind: 'float'; readonly name: string }
  | { readonly kind: 'struct'; readonly name: string; readonly fields: Readonly<Record<string, GoType>> }
  | { readonly kind: 'map'; readonly value: GoType }
  | { readonly kind: 'slice'; readonly elem: GoType }
  | { readonly kind: 'any' };

export const str: GoType = { kind: 'string', name: 'string' };
export const named = (name: string): GoType => ({ kind: 'string', name });
export const bool: GoType = { kind: 'bool' };
/** JSON numbers are doubles here: the 64-bit limits are the ones a double holds exactly. */
export const int64: GoType = { kind: 'int', name: 'int64', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
export const int: GoType = { kind: 'int', name: 'int', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
export const uint64: GoType = { kind: 'int', name: 'uint64', min: 0, max: Number.MAX_SAFE_INTEGER };
export const uint32: GoType = { kind: 'int', name: 'uint32', min: 0, max: 2 ** 32 - 1 };
/** time.Duration: int64 nanoseconds. */
export const duration: GoType = {
  kind: 'int',
  name: 'time.Duration',
  min: Number.MIN_SAFE_INTEGER,
  max: Number.MAX_SAFE_INTEGER,
};
export const fileMode: GoType = { kind: 'int', name: 'fs.FileMode', min: 0, max: 2 ** 32 - 1 };
export const float32: GoType = { kind: 'float', name: 'float32' };
export const any: GoType = { kind: 'any' };
export const stringMap: GoType = { kind: 'map', value: str };
export const strings: GoType = { kind: 'slice', elem: str };

export function struct(name: string, fields: Record<string, GoType>): GoType {
  return { kind: 'struct', name, fields };
}

export function sliceOf(elem: GoType): GoType {
  return { kind: 'slice', elem };
}

export function mapOf(value: GoType): GoType {
  return { kind: 'map', value };
}

/** How Go's reflect names a type in its error messages. */
export function typeName(t: GoType): string {
  switch (t.kind) {
    case 'string':
    case 'int':
    case 'float':
      return t.name;
    case 'bool':
      return 'bool';
    case 'struct':
      return t.name;
    case 'map':
      return `map[string]${typeName(t.value)}`;
    case 'slice':
      return `[]${typeName(t.elem)}`;
    case 'any':
      return 'interface {}';
  }
}
