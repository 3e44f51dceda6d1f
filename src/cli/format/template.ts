/**
 * `--format` as the docker CLI does it, on our Go text/template engine (./go-template):
 * renderTemplate for `inspect`, formatList for `ls`/`ps` with docker's `table` and `json`
 * shorthands. Errors come out as docker words them: "template parsing error: template: ...".
 */
import {
  ExecError,
  defaultFuncs,
  headerFuncs,
  mergeFuncs,
  parseTemplate,
  type GoTemplate,
} from './go-template/index.js';
import { renderTable } from './table.js';

/** A template that did not parse or failed on an item; the CLI prints the message as is. */
export class TemplateError extends Error {}

function compile(text: string): GoTemplate {
  try {
    return parseTemplate(text);
  } catch (e) {
    throw new TemplateError(`template parsing error: ${(e as Error).message}`);
  }
}

function run(tpl: GoTemplate, data: unknown): string {
  try {
    return tpl.execute(data);
  } catch (e) {
    if (e instanceof ExecError) throw new TemplateError(`template parsing error: ${e.message}`);
    throw e;
  }
}

/** `inspect --format`: the template as given (docker expands no `\t` escapes here). */
export function renderTemplate(tpl: string, data: unknown): string {
  return run(compile(tpl), data);
}

/** docker's Format.templateString: drop the `table` prefix, trim spaces, expand `\t` and `\n`. */
export function templateString(format: string): string {
  if (format === 'json') return '{{json .}}';
  const body = format.startsWith('table') ? format.slice('table'.length) : format;
  return body
    .replace(/^ +| +$/g, '')
    .replace(/\\t/g, '\t')
    .replace(/\\n/g, '\n');
}

const headerFuncSet = mergeFuncs(defaultFuncs, headerFuncs);

/**
 * Formats a list: `json` gives one JSON object per line, `table …` a header row and aligned
 * columns, anything else one rendered template per item. As in docker, the header row is the
 * template executed against the column names (`headers`, keyed by field; other fields of the
 * items fall back to their upper-cased name), with json/upper/… passing names through.
 */
export function formatList(
  format: string,
  items: unknown[],
  headers: Record<string, string>,
  raw?: (i: unknown) => unknown,
): string {
  if (format === 'json') {
    const tpl = compile('{{json .}}');
    return items.map((i) => run(tpl, raw ? raw(i) : i) + '\n').join('');
  }
  const isTable = format.startsWith('table');
  // A bare "table" is the default table: every known column.
  const text =
    format.trim() === 'table'
      ? Object.keys(headers)
          .map((k) => `{{.${k}}}`)
          .join('\t')
      : templateString(format);
  const tpl = compile(text);
  const lines = items.map((i) => run(tpl, i));
  if (!isTable) return lines.map((l) => l + '\n').join('');
  const names: Record<string, string> = {};
  for (const item of items) {
    if (item && typeof item === 'object') for (const k of Object.keys(item)) names[k] = k.toUpperCase();
  }
  Object.assign(names, headers);
  let header: string;
  try {
    header = tpl.execute(names, headerFuncSet);
  } catch (e) {
    // docker ignores a failing header and keeps what was written before the failure.
    if (!(e instanceof ExecError)) throw e;
    header = e.partial;
  }
  return renderTable([header, ...lines].flatMap((l) => l.split('\n')).map((l) => l.split('\t')));
}
