/** Go's strconv.Quote and Unquote, for %q, error messages and string literals in templates. */

const SIMPLE_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/** Whether Go's unicode.IsPrint would keep the rune as is (approximated with Unicode classes). */
const isPrint = (c: string): boolean => c === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(c);

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** strconv.Quote (quote = '"') or QuoteRune (quote = "'"). */
export function goQuote(s: string, quote = '"'): string {
  let out = quote;
  for (const c of s) {
    if (c === quote || c === '\\') out += `\\${c}`;
    else if (SIMPLE_ESCAPES[c]) out += SIMPLE_ESCAPES[c];
    else if (isPrint(c)) out += c;
    else {
      const cp = c.codePointAt(0)!;
      if (cp >= 0xd800 && cp <= 0xdfff)
        out += '\\ufffd'; // lone surrogate: Go sees invalid UTF-8
      else if (cp < 0x80) out += `\\x${hex(cp, 2)}`;
      else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
      else out += `\\U${hex(cp, 8)}`;
    }
  }
  return out + quote;
}

/** strconv.Unquote for "…", `…` and '…' literals; throws Go's "invalid syntax". */
export function goUnquote(lit: string): string {
  const q = lit[0];
  if (q === '`') return lit.slice(1, -1).replace(/\r/g, '');
  let out = '';
  for (let i = 1; i < lit.length - 1; i++) {
    const c = lit[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = lit[++i];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      "'": "'",
      '"': '"',
    };
    if (e !== undefined && simple[e] !== undefined && (e !== "'" || q === "'") && (e !== '"' || q === '"'))
      out += simple[e];
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const digits = lit.slice(i + 1, i + 1 + n);
      if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== n) throw new Error('invalid syntax');
      out += String.fromCodePoint(parseInt(digits, 16));
      i += n;
    } else if (e !== undefined && e >= '0' && e <= '7') {
      const digits = lit.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(digits)) throw new Error('invalid syntax');
      out += String.fromCharCode(parseInt(digits, 8));
      i += 2;
    } else throw new Error('invalid syntax');
  }
  return out;
}
