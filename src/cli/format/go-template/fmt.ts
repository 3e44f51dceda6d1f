/**
 * The part of Go's fmt package templates reach: %v printing of values (print, println, and
 * `{{.}}` itself) and printf's verbs, flags, width and precision, with Go's %!verb(type=value)
 * complaints for mismatches. One leniency: %e/%f/%g accept integers (JSON has no float64 type
 * to tell 2.0 from 2, so a ratio that happens to be whole must still format as a float).
 */
import { goQuote } from './quote.js';
import { floatValue, goTypeName, kindOf, sortedKeys, type GoMap } from './values.js';

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width?: number;
  prec?: number;
}

const plain = (): Spec => ({ minus: false, plus: false, sharp: false, space: false, zero: false });

function pad(s: string, spec: Spec, zeroOK = true): string {
  const n = Array.from(s).length;
  if (spec.width === undefined || n >= spec.width) return s;
  const fill = spec.width - n;
  if (spec.minus) return s + ' '.repeat(fill);
  return (spec.zero && zeroOK ? '0' : ' ').repeat(fill) + s;
}

/** Sign and prefix stay in front of zero padding: %05d of -42 is -0042. */
function padNumber(sign: string, prefix: string, digits: string, spec: Spec): string {
  if (spec.zero && !spec.minus && spec.width !== undefined) {
    const fill = spec.width - sign.length - prefix.length - digits.length;
    if (fill > 0) digits = '0'.repeat(fill) + digits;
  }
  return pad(sign + prefix + digits, spec, false);
}

function signOf(negative: boolean, spec: Spec): string {
  return negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
}

function formatInt(n: bigint, verb: string, spec: Spec): string | undefined {
  const neg = n < 0n;
  const abs = neg ? -n : n;
  switch (verb) {
    case 'c':
      return pad(String.fromCodePoint(Number(abs)), spec);
    case 'q':
      return pad(goQuote(String.fromCodePoint(Number(abs)), "'"), spec);
    case 'U': {
      const u = `U+${abs.toString(16).toUpperCase().padStart(4, '0')}`;
      return pad(spec.sharp ? `${u} '${String.fromCodePoint(Number(abs))}'` : u, spec);
    }
  }
  const base = { d: 10, v: 10, b: 2, o: 8, O: 8, x: 16, X: 16 }[verb];
  if (base === undefined) return undefined;
  let digits = abs.toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  if (spec.prec !== undefined) digits = spec.prec === 0 && abs === 0n ? '' : digits.padStart(spec.prec, '0');
  let prefix = '';
  if (verb === 'O' || (spec.sharp && verb === 'o' && !digits.startsWith('0'))) prefix = verb === 'O' ? '0o' : '0';
  if (spec.sharp && (verb === 'x' || verb === 'X' || verb === 'b'))
    prefix = verb === 'b' ? '0b' : verb === 'x' ? '0x' : '0X';
  const zeroSpec = spec.prec !== undefined ? { ...spec, zero: false } : spec;
  return padNumber(signOf(neg, spec), prefix, digits, zeroSpec);
}

/** Decimal digits and decimal-point position of |f|, rounded to prec significant digits (-1: shortest). */
function decimalDigits(f: number, prec: number): { digits: string; dp: number } {
  const [mant, exp] = (prec < 0 ? f.toExponential() : f.toExponential(Math.max(prec, 1) - 1)).split('e');
  const digits = mant!.replace('.', '').replace(/0+$/, '') || '0';
  return { digits, dp: Number(exp) + 1 };
}

function expString(digits: string, dp: number, decimals: number, upper: boolean): string {
  const d = digits.padEnd(decimals + 1, '0');
  const exp = dp - 1;
  const e = `${upper ? 'E' : 'e'}${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return (decimals > 0 ? `${d[0]}.${d.slice(1, decimals + 1)}` : d[0]!) + e;
}

function fixedString(digits: string, dp: number, decimals: number): string {
  const intPart = dp > 0 ? digits.slice(0, dp).padEnd(dp, '0') : '0';
  const frac = (dp < 0 ? '0'.repeat(-dp) + digits : digits.slice(Math.max(dp, 0)))
    .padEnd(decimals, '0')
    .slice(0, decimals);
  return decimals > 0 ? `${intPart}.${frac}` : intPart;
}

function formatFloat(f: number, verb: string, spec: Spec): string | undefined {
  if (!'vgGeEfF'.includes(verb)) return undefined;
  const neg = f < 0 || Object.is(f, -0);
  const abs = Math.abs(f);
  if (!Number.isFinite(abs)) return pad(Number.isNaN(f) ? 'NaN' : `${neg ? '-' : '+'}Inf`, spec, false);
  const upper = verb === 'E' || verb === 'G';
  let body: string;
  if (verb === 'e' || verb === 'E') {
    const p = spec.prec ?? 6;
    const [m, x] = abs.toExponential(p).split('e');
    body = expString(m!.replace('.', ''), Number(x) + 1, p, upper);
  } else if (verb === 'f' || verb === 'F') {
    body = abs.toFixed(Math.min(spec.prec ?? 6, 100));
  } else {
    // %g / %v: shortest digits; exponent form when exp < -4 or exp >= precision (6 when shortest).
    const prec = verb === 'v' ? -1 : (spec.prec ?? -1);
    const { digits, dp } = decimalDigits(abs, prec === 0 ? 1 : prec);
    let eprec = prec < 0 ? 6 : prec === 0 ? 1 : prec;
    if (prec >= 0 && eprec > digits.length && digits.length >= dp) eprec = digits.length;
    const exp = dp - 1;
    body =
      abs === 0
        ? '0'
        : exp < -4 || exp >= eprec
          ? expString(digits, dp, digits.length - 1, upper)
          : fixedString(digits, dp, Math.max(digits.length - dp, 0));
  }
  return padNumber(signOf(neg, spec), '', body, spec);
}

function formatString(s: string, verb: string, spec: Spec): string | undefined {
  const cut = spec.prec !== undefined ? Array.from(s).slice(0, spec.prec).join('') : s;
  switch (verb) {
    case 's':
    case 'v':
      return pad(cut, spec);
    case 'q':
      return pad(goQuote(cut), spec);
    case 'x':
    case 'X': {
      const hex = Array.from(Buffer.from(s, 'utf8'), (b) => {
        const h = b.toString(16).padStart(2, '0');
        return (spec.sharp ? '0x' : '') + (verb === 'X' ? h.toUpperCase() : h);
      });
      return pad(hex.join(spec.space ? ' ' : ''), spec);
    }
  }
  return undefined;
}

/** One operand under one verb; composite values apply the verb to each element, as Go does. */
export function formatValue(v: unknown, verb: string, spec: Spec = plain()): string {
  if (verb === 'T') return pad(goTypeName(v), spec);
  if (verb === 'v' && spec.sharp && typeof v === 'string') return pad(goQuote(v), spec);
  let out: string | undefined;
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      out = verb === 'v' ? pad('<nil>', spec) : `%!${verb}(<nil>)`;
      break;
    case 'bool':
      if (verb === 't' || verb === 'v') out = pad(String(v), spec);
      break;
    case 'int': {
      const n = typeof v === 'bigint' ? v : BigInt(v as number);
      out = 'eEfFgG'.includes(verb) ? formatFloat(Number(n), verb, spec) : formatInt(n, verb, spec);
      break;
    }
    case 'float':
      out = formatFloat(floatValue(v), verb, spec);
      break;
    case 'string':
      out = formatString(v as string, verb, spec);
      break;
    case 'slice':
      return `[${(v as unknown[]).map((e) => formatValue(e, verb, spec)).join(' ')}]`;
    case 'map': {
      const m = v as GoMap;
      return `map[${sortedKeys(m)
        .map((k) => `${formatValue(k, verb, spec)}:${formatValue(m[k], verb, spec)}`)
        .join(' ')}]`;
    }
  }
  return out ?? `%!${verb}(${goTypeName(v)}=${formatValue(v, 'v')})`;
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a, 'v');
  });
  return out;
}

/** fmt.Sprintln: always spaces, then a newline. */
export function sprintln(args: unknown[]): string {
  return args.map((a) => formatValue(a, 'v')).join(' ') + '\n';
}

/** fmt.Sprintf with Go's flags, width, precision, `*` and `[n]` argument indexes. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argNum = 0;
  let reordered = false;
  let i = 0;
  const argIndex = (): boolean => {
    const m = /^\[(\d+)\]/.exec(format.slice(i));
    if (!m) return true;
    i += m[0].length;
    reordered = true;
    const n = Number(m[1]) - 1;
    if (n < 0 || n >= args.length) return false;
    argNum = n;
    return true;
  };
  const intArg = (): number | undefined => {
    const a = args[argNum++];
    return kindOf(a) === 'int' ? Number(a) : undefined;
  };
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec = plain();
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '#') spec.sharp = true;
      else if (c === '0') spec.zero = !spec.minus;
      else if (c === '+') spec.plus = true;
      else if (c === '-') {
        spec.minus = true;
        spec.zero = false;
      } else if (c === ' ') spec.space = true;
      else break;
    }
    let goodIndex = argIndex();
    if (format[i] === '*') {
      i++;
      const w = intArg();
      if (w === undefined) out += '%!(BADWIDTH)';
      else if (w < 0) {
        spec.minus = true;
        spec.zero = false;
        spec.width = -w;
      } else spec.width = w;
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m) {
        spec.width = Number(m[0]);
        i += m[0].length;
      }
    }
    if (format[i] === '.') {
      i++;
      goodIndex = argIndex() && goodIndex;
      if (format[i] === '*') {
        i++;
        const p = intArg();
        if (p === undefined || p < 0) out += '%!(BADPREC)';
        else spec.prec = p;
      } else {
        const m = /^\d*/.exec(format.slice(i))![0];
        spec.prec = m ? Number(m) : 0;
        i += m.length;
      }
    }
    goodIndex = argIndex() && goodIndex;
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    i += verb.length;
    if (verb === '%') out += '%';
    else if (!goodIndex) out += `%!${verb}(BADINDEX)`;
    else if (argNum >= args.length) out += `%!${verb}(MISSING)`;
    else out += formatValue(args[argNum++], verb, spec);
  }
  if (!reordered && argNum < args.length) {
    out += `%!(EXTRA ${args
      .slice(argNum)
      .map((a) => (a === null || a === undefined ? '<nil>' : `${goTypeName(a)}=${formatValue(a, 'v')}`))
      .join(', ')})`;
  }
  return out;
}
