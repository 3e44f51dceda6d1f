/**
 * The functions a template can call: Go's builtins, then docker's additions (see docker/cli
 * templates/templates.go), and the variants docker uses when it renders a table header.
 */
import { eq, ge, gt, le, lt, ne } from './compare.js';
import { htmlEscape, jsEscape, urlQueryEscape } from './escape.js';
import { FuncError } from './func-error.js';
import { formatValue, sprint, sprintf, sprintln } from './fmt.js';
import { goJSON } from './json.js';
import { byteLength, goTypeName, isMap, isTrue, kindOf, sortedKeys } from './values.js';

/** Parameter types that matter for Go's argument checks ("expected string; found 3"). */
export type ParamType = 'any' | 'string' | 'int';

export interface GoFunc {
  params: ParamType[];
  /** Type of a trailing `...T` parameter. */
  variadic?: ParamType;
  /** and/or: arguments are evaluated only until the result is known (Go ≥ 1.18). */
  shortCircuit?: 'and' | 'or';
  call(args: unknown[]): unknown;
}

export type FuncMap = ReadonlyMap<string, GoFunc>;

const fn = (params: ParamType[], call: (args: unknown[]) => unknown, variadic?: ParamType): GoFunc => ({
  params,
  call,
  ...(variadic ? { variadic } : {}),
});
const str = (v: unknown): string => v as string;
const int = (v: unknown): number => Number(v);

/** Go's fmt-based html/js/urlquery argument joining: one string stays as is. */
const evalArgs = (args: unknown[]): string =>
  args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);

function indexArg(i: unknown, cap: number, what: string): number {
  if (i === null || i === undefined) throw new FuncError(`cannot index ${what} with nil`);
  if (kindOf(i) !== 'int') throw new FuncError(`cannot index ${what} with type ${goTypeName(i)}`);
  const x = Number(i);
  if (x < 0 || x > cap) throw new FuncError(`index out of range: ${x}`);
  return x;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null) throw new FuncError('index of untyped nil');
  let v: unknown = item;
  for (const i of indexes) {
    if (v === null || v === undefined) throw new FuncError('index of nil pointer');
    if (typeof v === 'string' || Array.isArray(v)) {
      const len = typeof v === 'string' ? byteLength(v) : v.length;
      const x = indexArg(i, len, 'slice/array');
      if (x === len) throw new FuncError(`index out of range: ${x}`);
      v = typeof v === 'string' ? Buffer.from(v, 'utf8')[x]! : v[x];
    } else if (isMap(v)) {
      if (typeof i !== 'string') throw new FuncError(`value has type ${goTypeName(i)}; should be string`);
      // A missing key gives the map's zero value. Our maps stand for docker's typed ones: an
      // all-string map (labels, options) is map[string]string, whose zero is "".
      if (Object.hasOwn(v, i)) v = v[i];
      else v = Object.values(v).every((x) => typeof x === 'string') ? '' : undefined;
    } else throw new FuncError(`can't index item of type ${goTypeName(v)}`);
  }
  return v;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null) throw new FuncError('slice of untyped nil');
  if (indexes.length > 3) throw new FuncError(`too many slice indexes: ${indexes.length}`);
  if (typeof item === 'string' && indexes.length === 3) throw new FuncError('cannot 3-index slice a string');
  if (typeof item !== 'string' && !Array.isArray(item))
    throw new FuncError(`can't slice item of type ${goTypeName(item)}`);
  const len = typeof item === 'string' ? byteLength(item) : item.length;
  const idx = [0, len];
  indexes.forEach((i, n) => (idx[n] = indexArg(i, len, 'slice/array')));
  if (idx[0]! > idx[1]!) throw new FuncError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  return typeof item === 'string'
    ? Buffer.from(item, 'utf8').subarray(idx[0], idx[1]).toString('utf8')
    : item.slice(idx[0], idx[1]);
}

function length(item: unknown): number {
  if (item === undefined || item === null) throw new FuncError('len of nil pointer');
  if (typeof item === 'string') return byteLength(item);
  if (Array.isArray(item)) return item.length;
  if (isMap(item)) return Object.keys(item).length;
  throw new FuncError(`len of type ${goTypeName(item)}`);
}

export const builtins: FuncMap = new Map<string, GoFunc>([
  ['and', { params: ['any'], variadic: 'any', shortCircuit: 'and', call: () => undefined }],
  ['or', { params: ['any'], variadic: 'any', shortCircuit: 'or', call: () => undefined }],
  ['not', fn(['any'], ([a]) => !isTrue(a))],
  ['len', fn(['any'], ([a]) => length(a))],
  ['index', fn(['any'], ([a, ...i]) => index(a, ...i), 'any')],
  ['slice', fn(['any'], ([a, ...i]) => slice(a, ...i), 'any')],
  ['print', fn([], (a) => sprint(a), 'any')],
  ['printf', fn(['string'], ([f, ...a]) => sprintf(str(f), a), 'any')],
  ['println', fn([], (a) => sprintln(a), 'any')],
  ['html', fn([], (a) => htmlEscape(evalArgs(a)), 'any')],
  ['js', fn([], (a) => jsEscape(evalArgs(a)), 'any')],
  ['urlquery', fn([], (a) => urlQueryEscape(evalArgs(a)), 'any')],
  ['eq', fn(['any'], ([a, ...b]) => eq(a, ...b), 'any')],
  ['ne', fn(['any', 'any'], ([a, b]) => ne(a, b))],
  ['lt', fn(['any', 'any'], ([a, b]) => lt(a, b))],
  ['le', fn(['any', 'any'], ([a, b]) => le(a, b))],
  ['gt', fn(['any', 'any'], ([a, b]) => gt(a, b))],
  ['ge', fn(['any', 'any'], ([a, b]) => ge(a, b))],
]);

/** strings.Title's word boundaries: ASCII non-alphanumerics (but `_`), and non-ASCII spaces. */
function isSeparator(c: string): boolean {
  if (c.codePointAt(0)! <= 0x7f) return !/[0-9A-Za-z_]/.test(c);
  if (/[\p{L}\p{Nd}]/u.test(c)) return false;
  return /\s/u.test(c);
}

/** strings.Title: upper-cases each letter that follows a separator. */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const c of s) {
    out += isSeparator(prev) ? c.toUpperCase() : c;
    prev = c;
  }
  return out;
}

/** docker's join: strings joined as is, other elements printed; map values sorted. */
function join(elems: unknown, sep: string): string {
  if (elems === undefined || elems === null) return '';
  const show = (e: unknown): string => (typeof e === 'string' ? e : formatValue(e, 'v'));
  if (Array.isArray(elems)) return elems.map(show).join(sep);
  if (isMap(elems))
    return sortedKeys(elems)
      .map((k) => show(elems[k]))
      .sort()
      .join(sep);
  throw new FuncError(`expected slice, got ${goTypeName(elems)}`);
}

function repeat(n: number): string {
  if (n < 0) throw new FuncError('strings: negative Repeat count');
  return ' '.repeat(n);
}

export const dockerFuncs: FuncMap = new Map<string, GoFunc>([
  ['json', fn(['any'], ([v]) => goJSON(v))],
  ['split', fn(['string', 'string'], ([s, sep]) => (str(sep) === '' ? Array.from(str(s)) : str(s).split(str(sep))))],
  ['join', fn(['any', 'string'], ([e, sep]) => join(e, str(sep)))],
  ['title', fn(['string'], ([s]) => title(str(s)))],
  ['lower', fn(['string'], ([s]) => str(s).toLowerCase())],
  ['upper', fn(['string'], ([s]) => str(s).toUpperCase())],
  ['pad', fn(['string', 'int', 'int'], ([s, p, q]) => (str(s) === '' ? '' : repeat(int(p)) + str(s) + repeat(int(q))))],
  [
    'truncate',
    fn(['string', 'int'], ([s, n]) => {
      const bytes = Buffer.from(str(s), 'utf8');
      if (bytes.length < int(n)) return str(s);
      if (int(n) < 0) throw new FuncError(`runtime error: slice bounds out of range [:${int(n)}]`);
      return bytes.subarray(0, int(n)).toString('utf8');
    }),
  ],
]);

/** For the header row of a table: the column names pass through unchanged (pad still pads). */
export const headerFuncs: FuncMap = new Map<string, GoFunc>([
  ['json', fn(['string'], ([v]) => v)],
  ['split', fn(['string', 'string'], ([v]) => v)],
  ['join', fn(['string', 'string'], ([v]) => v)],
  ['title', fn(['string'], ([v]) => v)],
  ['lower', fn(['string'], ([v]) => v)],
  ['upper', fn(['string'], ([v]) => v)],
  ['truncate', fn(['string', 'int'], ([v]) => v)],
]);

/** Later maps override earlier ones, like text/template's Funcs. */
export function mergeFuncs(...maps: FuncMap[]): FuncMap {
  return new Map(maps.flatMap((m) => [...m]));
}
