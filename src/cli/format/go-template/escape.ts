/** Go's html, js and urlquery template functions. */

const HTML: Record<string, string> = {
  '"': '&#34;',
  "'": '&#39;',
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '\0': '\uFFFD',
};

export function htmlEscape(s: string): string {
  return s.replace(/["'&<>\0]/g, (c) => HTML[c]!);
}

export function jsEscape(s: string): string {
  let out = '';
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (c === '\\' || c === "'" || c === '"') out += `\\${c}`;
    else if (c === '<') out += '\\u003C';
    else if (c === '>') out += '\\u003E';
    else if (c === '&') out += '\\u0026';
    else if (c === '=') out += '\\u003D';
    else if (cp < 0x20) out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += c;
  }
  return out;
}

/** url.QueryEscape: space becomes '+', everything but unreserved characters is %XX. */
export function urlQueryEscape(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'), (b) => {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) return c;
    return c === ' ' ? '+' : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}
