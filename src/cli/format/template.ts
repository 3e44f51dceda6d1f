/**
 * A small subset of Go templates as `--format` uses them: `{{.Field}}`, `{{.A.B}}`, `{{json .}}`,
 * `{{json .Field}}`, `{{upper .X}}`/`{{lower .X}}`, the `table` prefix (a header row, tab-aligned
 * columns) and the `json` shorthand.
 */
import { renderTable } from './table.js';

type Value = unknown;

function lookup(root: Value, path: string): Value {
  if (path === '.') return root;
  let v: Value = root;
  for (const part of path.replace(/^\./, '').split('.')) {
    if (v === null || v === undefined || typeof v !== 'object') return undefined;
    v = (v as Record<string, Value>)[part];
  }
  return v;
}

function show(v: Value): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'object') {
    if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
    return `map[${Object.entries(v as Record<string, Value>)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, x]) => `${k}:${show(x)}`)
      .join(' ')}]`;
  }
  return String(v);
}

function evalAction(action: string, data: Value): string {
  const parts = action.trim().split(/\s+/);
  const [fn, arg] = parts;
  if (fn === 'json') return JSON.stringify(lookup(data, arg ?? '.') ?? null);
  if (fn === 'upper') return show(lookup(data, arg ?? '.')).toUpperCase();
  if (fn === 'lower') return show(lookup(data, arg ?? '.')).toLowerCase();
  if (fn === 'println') return show(lookup(data, arg ?? '.')) + '\n';
  if (fn?.startsWith('.')) return show(lookup(data, fn));
  throw new Error(`template: unsupported action {{${action}}}`);
}

export function renderTemplate(tpl: string, data: Value): string {
  const unescaped = tpl.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return unescaped.replace(/\{\{(.*?)\}\}/g, (_m, a: string) => evalAction(a, data));
}

/**
 * Formats a list: `table ...` gives a header plus aligned rows (header names from `headers`, keyed
 * by field), `json` one JSON object per line, anything else one rendered line per item.
 */
export function formatList(format: string, items: Value[], headers: Record<string, string>, raw?: (i: Value) => Value): string {
  if (format === 'json') return items.map((i) => JSON.stringify(raw ? raw(i) : i) + '\n').join('');
  if (format.startsWith('table')) {
    const tpl = format.slice('table'.length).trim();
    const headerLine = renderTemplate(tpl.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_m, f: string) => headers[f] ?? f.toUpperCase()), {});
    const lines = [headerLine, ...items.map((i) => renderTemplate(tpl, i))];
    return renderTable(lines.map((l) => l.split('\t')));
  }
  return items.map((i) => renderTemplate(format, i) + '\n').join('');
}
