/** Engine behaviour beyond the docker-captured cases: JSON-shaped data, options, table headers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatList } from '../template.js';
import { parseTemplate, type ExecError } from './index.js';

const run = (tpl: string, data: unknown): string => parseTemplate(tpl).execute(data);
const fails = (tpl: string, data: unknown, message: string): void => {
  assert.throws(
    () => run(tpl, data),
    (e: Error) => (assert.equal(e.message, message), true),
  );
};

describe('go template engine', () => {
  it('prints JSON values the way Go prints their decoded form', () => {
    const data = {
      n: null,
      big: 7776000000000000,
      neg: -3,
      f: 0.5,
      nested: { b: [1, 'x', null], a: { z: true } },
      empty: {},
      list: [],
    };
    assert.equal(
      run('{{.n}}|{{.big}}|{{.neg}}|{{.f}}|{{.nested}}|{{.empty}}|{{.list}}|{{.missing}}', data),
      '<nil>|7776000000000000|-3|0.5|map[a:map[z:true] b:[1 x <nil>]]|map[]|[]|<no value>',
    );
    assert.equal(run('{{.}}', 12345678901234567890n), '12345678901234567890');
  });

  it('ranges over maps in sorted key order, with else for empty collections', () => {
    assert.equal(run('{{range $k, $v := .}}{{$k}}={{$v}} {{end}}', { b: 2, a: 1, C: 3 }), 'C=3 a=1 b=2 ');
    assert.equal(run('{{range .}}x{{else}}none{{end}}', {}), 'none');
    assert.equal(run('{{range .x}}x{{else}}none{{end}}', {}), 'none');
  });

  it('supports else-with chains and variables scoped to their block', () => {
    const t = '{{with .a}}A{{else with .b}}B={{.}}{{else}}none{{end}}';
    assert.equal(run(t, { b: 'yes' }), 'B=yes');
    assert.equal(run(t, {}), 'none');
    assert.equal(run('{{$x := 1}}{{range .}}{{$x = .}}{{end}}{{$x}}', [1, 2, 3]), '3');
    assert.throws(() => parseTemplate('{{if true}}{{$y := 1}}{{end}}{{$y}}'), /undefined variable "\$y"/);
  });

  it('reports errors on nil and non-map receivers like Go', () => {
    fails('{{.a.b}}', { a: null }, 'template: :1:4: executing "" at <.a.b>: nil pointer evaluating interface {}.b');
    fails(
      '{{.a.b}}',
      { a: 'str' },
      'template: :1:4: executing "" at <.a.b>: can\'t evaluate field b in type interface {}',
    );
    fails(
      '{{with .a}}{{.b}}{{end}}',
      { a: 'str' },
      'template: :1:13: executing "" at <.b>: can\'t evaluate field b in type string',
    );
    fails(
      '{{eq 3.0 3}}',
      {},
      'template: :1:2: executing "" at <eq 3.0 3>: error calling eq: incompatible types for comparison',
    );
    fails('x\n  {{.a | len}}', { a: 5 }, 'template: :2:9: executing "" at <len>: error calling len: len of type int');
  });

  it('can treat a missing map key as an error (missingkey=error)', () => {
    const t = parseTemplate('{{.a.b}}', { missingKeyError: true });
    assert.equal(t.execute({ a: { b: 1 } }), '1');
    assert.throws(() => t.execute({ a: {} }), /map has no entry for key "b"/);
  });

  it('keeps the output written before an execution error', () => {
    assert.throws(
      () => run('ok {{.a}} {{len 1}}', { a: 'A' }),
      (e: ExecError) => (assert.equal(e.partial, 'ok A '), true),
    );
  });

  it('encodes json like Go: integers in full, U+2028 escaped, HTML left alone', () => {
    assert.equal(
      run('{{json .}}', { a: 1e21, b: '\u2028<>', c: [null, true], d: 1.5 }),
      '{"a":1000000000000000000000,"b":"\\u2028<>","c":[null,true],"d":1.5}',
    );
  });

  it('trims whitespace around actions only where a trim marker asks', () => {
    assert.equal(run('a  \n {{- .x -}} \n  b {{ .x }} c', { x: 1 }), 'a1b 1 c');
    assert.equal(run('{{-3}}', {}), '-3');
  });
});

describe('formatList', () => {
  const rows = [{ ID: 'abc', Name: 'web', Self: true }];
  const headers = { ID: 'ID', Name: 'NAME' };

  it('renders the header from column names, upper-casing fields it has no name for', () => {
    assert.equal(
      formatList('table {{.ID}}\\t{{.Self}}\\t{{upper .Name}}', rows, headers),
      'ID        SELF      NAME\nabc       true      WEB\n',
    );
  });

  it('keeps a header that fails part-way, as docker does', () => {
    // The header's .Labels is the string "LABELS", so .Labels.a fails there (and only there).
    const withLabels = [{ Name: 'web', Labels: { a: '1' } }];
    assert.equal(formatList('table {{.Name}}\\t{{.Labels.a}}', withLabels, headers), 'NAME      \nweb       1\n');
  });

  it('gives every known column for a bare "table", and JSON lines for "json"', () => {
    assert.equal(formatList('table', rows, headers), 'ID        NAME\nabc       web\n');
    assert.equal(formatList('json', rows, headers), '{"ID":"abc","Name":"web","Self":true}\n');
  });
});
