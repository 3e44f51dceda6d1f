/**
 * Go's json.Encoder output as docker's `json` template function produces it: compact, HTML
 * escaping off (docker calls SetEscapeHTML(false)), but U+2028/U+2029 still escaped and integers
 * written in full. Object keys keep their order: the data are the API's JSON, already in
 * Go's struct field order.
 */
import { floatValue, kindOf, type GoMap } from './values.js';

function jsonString(s: string): string {
  return JSON.stringify(s)
    .replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)
    .replace(/\\ud[89a-f][0-9a-f]{2}/g, '\\ufffd'); // lone surrogates: Go writes the replacement rune
}

function jsonFloat(f: number): string {
  if (!Number.isFinite(f)) throw new Error(`json: unsupported value: ${f}`);
  return JSON.stringify(f); // same cut-offs as Go: exponent below 1e-6 and from 1e21
}

export function goJSON(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return 'null';
    case 'bool':
      return String(v);
    case 'int':
      return (typeof v === 'bigint' ? v : BigInt(v as number)).toString();
    case 'float':
      return jsonFloat(floatValue(v));
    case 'string':
      return jsonString(v as string);
    case 'slice':
      return `[${(v as unknown[]).map(goJSON).join(',')}]`;
    case 'map': {
      const m = v as GoMap;
      return `{${Object.keys(m)
        .filter((k) => m[k] !== undefined)
        .map((k) => `${jsonString(k)}:${goJSON(m[k])}`)
        .join(',')}}`;
    }
  }
}
