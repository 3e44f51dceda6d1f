import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { container, fails, load, svc } from './testing.js';

function env(yaml: string, vars: Record<string, string>, files: Record<string, string> = {}) {
  const s = load(`services:\n  a:\n    image: x\n    environment:\n${yaml}`, vars, files);
  return { env: container(s, 'a').Env, warnings: s.warnings };
}

describe('interpolation', () => {
  it('every form', () => {
    const r = env(
      [
        '      PLAIN: $SET',
        '      BRACED: ${SET}-x',
        '      DEF_EMPTY: ${EMPTY:-d1}',
        '      DEF_UNSET: ${NOPE-d2}',
        '      KEEP_EMPTY: "[${EMPTY-d3}]"',
        '      ALT: ${SET:+alt}',
        '      ALT_EMPTY: "[${EMPTY:+alt}]"',
        '      ALT_SET_EMPTY: ${EMPTY+alt2}',
        '      REQ: ${SET:?must}',
        '      REQ_EMPTY_OK: "[${EMPTY?must}]"',
        '      DOLLAR: $$SET costs $$5',
        '      NESTED: ${NOPE:-${SET}}',
      ].join('\n') + '\n',
      { SET: 'v', EMPTY: '' },
    );
    assert.deepEqual(r.env, [
      'ALT=alt',
      'ALT_EMPTY=[]',
      'ALT_SET_EMPTY=alt2',
      'BRACED=v-x',
      'DEF_EMPTY=d1',
      'DEF_UNSET=d2',
      'DOLLAR=$SET costs $5',
      'KEEP_EMPTY=[]',
      'NESTED=v',
      'PLAIN=v',
      'REQ=v',
      'REQ_EMPTY_OK=[]',
    ]);
    assert.deepEqual(r.warnings, []);
  });

  it('an unset variable becomes empty with a warning, once per name', () => {
    const r = env('      A: ${MISSING}\n      B: $MISSING\n', {});
    assert.deepEqual(r.env, ['A=', 'B=']);
    assert.deepEqual(r.warnings, ['The "MISSING" variable is not set. Defaulting to a blank string.']);
  });

  it('.env next to the first file fills what the environment leaves unset; the environment wins', () => {
    const r = env(
      '      A: $FROM_DOTENV\n      B: $BOTH\n',
      { BOTH: 'env' },
      {
        '/app/.env': '# settings\nFROM_DOTENV="dot env"\nBOTH=dotenv\n',
      },
    );
    assert.deepEqual(r.env, ['A=dot env', 'B=env']);
  });

  it('numbers and booleans from variables are cast where the file needs them', () => {
    const s = load('services:\n  a:\n    image: x:${TAG}\n    tty: ${TTY}\n    deploy:\n      replicas: ${N}\n', {
      TAG: '1.2',
      TTY: 'yes',
      N: '3',
    });
    assert.equal(container(s, 'a').Image, 'x:1.2');
    assert.equal(container(s, 'a').TTY, true);
    assert.deepEqual(svc(s, 'a').Mode, { Replicated: { Replicas: 3 } });
  });

  it(':? and ? name the file, the key and the variable', () => {
    fails(
      'services:\n  a:\n    image: x:${TAG:?set a tag}\n',
      '/app/docker-compose.yml: services.a.image requires variable TAG, which is missing a value: set a tag',
      { TAG: '' },
    );
    fails(
      'services:\n  a:\n    image: x:${TAG?}\n',
      '/app/docker-compose.yml: services.a.image requires variable TAG, which is not set',
    );
  });

  it('a lone $ is refused', () => {
    fails(
      'services:\n  a:\n    image: x\n    command: echo $5\n',
      '/app/docker-compose.yml: services.a.command has an invalid interpolation in "echo $5" (write $$ for a literal $)',
    );
  });
});
