/** Shared helpers of the stack loader tests. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadStack, StackFileError } from './load.js';
import type { Stack, StackService } from './types.js';

const TESTDATA = fileURLToPath(new URL('../../../src/stack/testdata/', import.meta.url));

/** Loads inline files; `files` maps absolute paths to contents for env_file, secrets and .env. */
export function load(
  yaml: string | string[],
  env: Record<string, string> = {},
  files: Record<string, string> = {},
): Stack {
  const list = Array.isArray(yaml) ? yaml : [yaml];
  return loadStack(
    'ns',
    list.map((content, i) => ({ path: i === 0 ? '/app/docker-compose.yml' : `/app/override${i}.yml`, content })),
    {
      env,
      readFile: (p) => {
        const text = files[p];
        if (text === undefined) throw new Error(`ENOENT: ${p}`);
        return text;
      },
    },
  );
}

export function seed(name: string, env: Record<string, string> = {}): Stack {
  const path = TESTDATA + name;
  return loadStack('wp', [{ path, content: readFileSync(path, 'utf8') }], {
    env,
    readFile: (p) => readFileSync(p, 'utf8'),
  });
}

export function svc(stack: Stack, key: string): StackService['spec'] {
  const s = stack.services.find((x) => x.name === `${stack.namespace}_${key}`);
  assert.ok(s, `service ${key}`);
  return s.spec;
}

export function container(stack: Stack, key: string) {
  const c = svc(stack, key).TaskTemplate.ContainerSpec;
  assert.ok(c);
  return c;
}

export function fails(
  yaml: string | string[],
  message: string,
  env: Record<string, string> = {},
  files: Record<string, string> = {},
) {
  assert.throws(
    () => load(yaml, env, files),
    (e: unknown) => {
      assert.ok(e instanceof StackFileError, String(e));
      assert.equal(e.message, message);
      return true;
    },
  );
}

export const NS = { 'com.docker.stack.namespace': 'ns' };
