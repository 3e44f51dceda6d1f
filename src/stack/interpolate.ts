/**
 * Variable substitution in every string value of a compose file, as compose defines it: `$VAR`,
 * `${VAR}`, `${VAR:-default}` / `${VAR-default}` (default when unset-or-empty / unset),
 * `${VAR:?err}` / `${VAR?err}` (error when unset-or-empty / unset), `${VAR:+alt}` / `${VAR+alt}`
 * (alt when set-and-non-empty / set), `$$` for a literal `$`. Defaults may nest (`${A:-${B}}`).
 * An unset plain variable becomes empty with docker's warning.
 */
import type { KeyPath } from './errors.js';
import { isMap, type Raw, type Reader } from './raw.js';

export type Lookup = (name: string) => string | undefined;

/** What a substitution needs besides the text: the variables, and where to record warnings. */
export interface Substitution {
  lookup: Lookup;
  /** Names of unset variables that defaulted to blank (the caller warns once per name). */
  missing: Set<string>;
}

class TemplateError extends Error {}

const NAME = /^[_A-Za-z][_A-Za-z0-9]*/;

/** Substitutes one string; throws TemplateError with the reason on a malformed or required-but-unset variable. */
function substitute(s: string, sub: Substitution): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      let depth = 1;
      let j = i + 2;
      for (; j < s.length && depth > 0; j++) {
        if (s[j] === '{') depth++;
        else if (s[j] === '}') depth--;
      }
      if (depth > 0) throw new TemplateError('invalid');
      out += braced(s.slice(i + 2, j - 1), sub);
      i = j;
    } else {
      const m = NAME.exec(s.slice(i + 1));
      if (!m) throw new TemplateError('invalid');
      out += plain(m[0], sub);
      i += 1 + m[0].length;
    }
  }
  return out;
}

function plain(name: string, sub: Substitution): string {
  const v = sub.lookup(name);
  if (v === undefined) sub.missing.add(name);
  return v ?? '';
}

function braced(body: string, sub: Substitution): string {
  const m = NAME.exec(body);
  if (!m) throw new TemplateError('invalid');
  const name = m[0];
  const rest = body.slice(name.length);
  if (rest === '') return plain(name, sub);
  const op = /^(:?[-?+])/.exec(rest)?.[1];
  if (op === undefined) throw new TemplateError('invalid');
  const arg = rest.slice(op.length);
  const v = sub.lookup(name);
  const set = op.startsWith(':') ? v !== undefined && v !== '' : v !== undefined;
  switch (op) {
    case ':-':
    case '-':
      return set ? (v ?? '') : substitute(arg, sub);
    case ':+':
    case '+':
      return set ? substitute(arg, sub) : '';
    default:
      if (!set) {
        throw new TemplateError(
          `requires variable ${name}, which is ${op === ':?' ? 'missing a value' : 'not set'}${arg ? `: ${arg}` : ''}`,
        );
      }
      return v ?? '';
  }
}

/** Substitutes every string value below `v` (keys are left alone, as compose does). */
export function interpolate(r: Reader, v: Raw, path: (string | number)[], sub: Substitution): Raw {
  if (typeof v === 'string') {
    try {
      return substitute(v, sub);
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      const reason =
        e.message === 'invalid'
          ? `has an invalid interpolation in ${JSON.stringify(v)} (write $$ for a literal $)`
          : e.message;
      return r.fail(path as KeyPath, reason);
    }
  }
  if (Array.isArray(v)) return v.map((x, i) => interpolate(r, x, [...path, i], sub));
  if (isMap(v)) {
    const out: Record<string, Raw> = {};
    for (const [k, x] of Object.entries(v)) out[k] = interpolate(r, x, [...path, k], sub);
    return out;
  }
  return v;
}

/** The warning docker prints for an unset variable. */
export function missingVariableWarning(name: string): string {
  return `The "${name}" variable is not set. Defaulting to a blank string.`;
}

/**
 * Parses a `.env` or `env_file` file: `KEY=VALUE` lines, blank lines and `#` comments skipped, an
 * optional `export ` prefix. `quotes` strips one pair of matching quotes around the value (compose's
 * `.env`); env_file keeps the value as written, like `docker run --env-file`. A bare `KEY` takes its
 * value from `lookup`, or is dropped when unset.
 */
export function parseEnvFile(
  text: string,
  quotes: boolean,
  lookup: Lookup,
): { vars: [string, string][]; bad?: number } {
  const vars: [string, string][] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const at = body.indexOf('=');
    const key = (at < 0 ? body : body.slice(0, at)).trim();
    if (!/^[^\s=]+$/.test(key)) return { vars, bad: n + 1 };
    if (at < 0) {
      const v = lookup(key);
      if (v !== undefined) vars.push([key, v]);
      continue;
    }
    let value = body.slice(at + 1);
    if (quotes) {
      value = value.trim();
      const q = value[0];
      if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1);
    }
    vars.push([key, value]);
  }
  return { vars };
}
