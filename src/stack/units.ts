/**
 * The value syntaxes compose borrows from Go and the docker CLI: durations (`1m30s`), byte sizes
 * (`50M`, binary multiples like docker's RAMInBytes), CPU counts (`0.5` → NanoCPUs) and shell words
 * (a string `command` is split like a POSIX shell would, without expansion). Each returns undefined
 * for a malformed value so the caller can name the key.
 */

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration, in nanoseconds; negative durations are refused. */
export function parseDuration(s: string): number | undefined {
  if (s === '0') return 0;
  if (!/^(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2]!] ?? 0);
  }
  return Math.round(total);
}

/** `50M` → 52428800 (k, m, g, t, p are powers of 1024, an optional `i`/`b` suffix is ignored). */
export function parseBytes(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(v.trim());
  if (!m) return undefined;
  const power = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.trunc(Number(m[1]) * 1024 ** power);
}

/** `0.5` → 500000000 NanoCPUs; more than nine decimals is refused as docker does. */
export function parseCpus(v: string | number): number | undefined {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(String(v).trim());
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
  const frac = m[2] ?? '';
  if (frac.replace(/0+$/, '').length > 9) return undefined;
  return Number(m[1] || '0') * 1e9 + Number((frac + '000000000').slice(0, 9));
}

/**
 * Splits a command string into words: blanks separate, single quotes keep everything, double quotes
 * keep everything but a backslash escape, a backslash outside quotes escapes the next character, and
 * `#` at the start of a word begins a comment. Undefined when a quote is left open.
 */
export function shellSplit(s: string): string[] | undefined {
  const words: string[] = [];
  let word: string | null = null;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
      i++;
    } else if (c === '#' && word === null) {
      while (i < s.length && s[i] !== '\n') i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return undefined;
      word = (word ?? '') + s.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let w: string = word ?? '';
      i++;
      for (;;) {
        if (i >= s.length) return undefined;
        const d = s[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < s.length) {
          w += s[i + 1];
          i += 2;
        } else {
          w += d;
          i++;
        }
      }
      word = w;
      i++;
    } else if (c === '\\') {
      word = (word ?? '') + (s[i + 1] ?? '');
      i += 2;
    } else {
      word = (word ?? '') + c;
      i++;
    }
  }
  if (word !== null) words.push(word);
  return words;
}
