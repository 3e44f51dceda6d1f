/**
 * Go text/template for `--format`, with docker's functions. Parse once, execute per item:
 *   parseTemplate('{{.Name}}').execute({ Name: 'web' }) === 'web'
 */
import type { ListNode } from './ast.js';
import { execute } from './exec.js';
import { builtins, dockerFuncs, mergeFuncs, type FuncMap } from './funcs.js';
import { parse } from './parser.js';

export { ExecError } from './exec.js';
export { headerFuncs, mergeFuncs, type FuncMap } from './funcs.js';

/** What docker's templates.Parse gives every template. */
export const defaultFuncs: FuncMap = mergeFuncs(builtins, dockerFuncs);

export interface TemplateOptions {
  /** The template's name in messages; docker's formatters use "". */
  name?: string;
  /** Option("missingkey=error"). */
  missingKeyError?: boolean;
}

export class GoTemplate {
  private constructor(
    private readonly text: string,
    private readonly root: ListNode,
    private readonly opts: Required<TemplateOptions>,
  ) {}

  static parse(text: string, opts: TemplateOptions = {}): GoTemplate {
    const o = { name: opts.name ?? '', missingKeyError: opts.missingKeyError ?? false };
    return new GoTemplate(text, parse(text, new Set(defaultFuncs.keys()), o.name), o);
  }

  /** Renders data; throws ExecError (with the partial output) on failure. `funcs` replaces the function set (e.g. for table headers). */
  execute(data: unknown, funcs: FuncMap = defaultFuncs): string {
    return execute(this.text, this.root, data, { ...this.opts, funcs });
  }
}

export function parseTemplate(text: string, opts?: TemplateOptions): GoTemplate {
  return GoTemplate.parse(text, opts);
}
