/**
 * Templates checked against the real docker CLI (28.2.2): each expected string is what docker
 * printed, pasted once; the data are in docker-fixture.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatList, renderTemplate } from '../template.js';
import { container, images } from './docker-fixture.js';

interface Case {
  tpl: string;
  out?: string;
  err?: string;
}

function check(c: Case, render: () => string): void {
  if (c.err !== undefined) assert.throws(render, (e: Error) => (assert.equal(e.message, c.err), true));
  else assert.equal(render(), c.out);
}

/** `docker inspect --format TPL tpl-test-1`: stdout without the newline docker adds per object, or stderr. */
const inspectCases: Case[] = [
  { tpl: '{{.Name}}', out: '/tpl-test-1' },
  { tpl: '{{.Config.Image}}', out: 'shoal-test/busybox:1' },
  { tpl: '{{.Config.Labels}}', out: 'map[a:1 com.example.x:hello world empty:]' },
  { tpl: '{{json .Config.Labels}}', out: '{"a":"1","com.example.x":"hello world","empty":""}' },
  { tpl: '{{index .Config.Labels "com.example.x"}}', out: 'hello world' },
  { tpl: '[{{index .Config.Labels "nope"}}]', out: '[]' },
  { tpl: '{{.Config.Labels.nope}}', out: '<no value>' },
  { tpl: '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', out: 'a=1;com.example.x=hello world;empty=;' },
  { tpl: '{{range .Mounts}}{{if eq .Type "bind"}}{{.Source}}->{{.Destination}}{{end}}{{end}}', out: '/tmp->/data' },
  { tpl: '{{join .Config.Env ","}}', out: 'FOO=bar,HTML=<b>&,PATH=/bin' },
  { tpl: '{{json .Config.Env}}', out: '["FOO=bar","HTML=<b>&","PATH=/bin"]' },
  { tpl: '{{.Config.Env}}', out: '[FOO=bar HTML=<b>& PATH=/bin]' },
  { tpl: '{{index .Config.Env 1}}', out: 'HTML=<b>&' },
  { tpl: '{{len .Config.Env}} {{len .Name}} {{len .Config.Labels}}', out: '3 11 3' },
  { tpl: '{{title .Config.Image}} {{title "hello wORLD-foo_bar"}}', out: 'Shoal-Test/Busybox:1 Hello WORLD-Foo_bar' },
  { tpl: '{{split .Config.Image ":"}}', out: '[shoal-test/busybox 1]' },
  { tpl: '{{index (split .Config.Image ":") 0}}', out: 'shoal-test/busybox' },
  { tpl: '{{upper .Config.Image}} {{lower "ABC"}}', out: 'SHOAL-TEST/BUSYBOX:1 abc' },
  { tpl: '{{truncate .Id 4}}|{{truncate "ab" 4}}', out: '9850|ab' },
  { tpl: '{{pad .Config.Image 1 2}}|{{pad "" 3 3}}|', out: ' shoal-test/busybox:1  ||' },
  {
    tpl: '{{if eq .State.Status "running"}}up{{else if eq .State.Status "created"}}new{{else}}other{{end}}',
    out: 'new',
  },
  {
    tpl: '{{with .Config.Labels.a}}a={{.}}{{else}}none{{end}} {{with .Config.Labels.nope}}x{{else}}none{{end}}',
    out: 'a=1 none',
  },
  {
    tpl: '{{range $i, $e := .Config.Env}}{{if $i}}, {{end}}{{$i}}:{{$e}}{{end}}',
    out: '0:FOO=bar, 1:HTML=<b>&, 2:PATH=/bin',
  },
  { tpl: 'A {{- range .Config.Cmd }} [{{ . }}] {{- end }} B', out: 'A [sh] [-c] [echo hi] B' },
  { tpl: '{{/* comment */}}{{.Name}}{{- /* trimmed */ -}}  !', out: '/tpl-test-1!' },
  { tpl: '{{$n := .Name}}{{$n}} {{$n = "x"}}{{$n}} {{$.Config.Image}}', out: '/tpl-test-1 x shoal-test/busybox:1' },
  { tpl: '{{printf "%s has %d env vars" .Name (len .Config.Env)}}', out: '/tpl-test-1 has 3 env vars' },
  {
    tpl: '{{printf "%-12s|%5s|%q|%v" .State.Status "ab" .Config.Cmd .Config.Labels}}',
    out: 'created     |   ab|["sh" "-c" "echo hi"]|map[a:1 com.example.x:hello world empty:]',
  },
  { tpl: '{{.Config.Image | upper | printf "%s!"}}', out: 'SHOAL-TEST/BUSYBOX:1!' },
  {
    tpl: '{{and .Config.Labels .Name}} {{or "" "fallback"}} {{not .Config.Labels}} {{and 1 0 2}}',
    out: '/tpl-test-1 fallback false 0',
  },
  {
    tpl: '{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}} {{ne .State.Status "running"}}',
    out: 'true true true false true',
  },
  { tpl: '{{eq .State.Status "exited" "created"}} {{eq .State.Running false}}', out: 'true true' },
  { tpl: '{{range .Config.Env}}{{if eq . "FOO=bar"}}{{continue}}{{end}}{{.}};{{end}}', out: 'HTML=<b>&;PATH=/bin;' },
  { tpl: '{{range .Config.Env}}{{.}}{{break}}{{end}}', out: 'FOO=bar' },
  { tpl: '{{range .HostConfig.Dns}}x{{else}}empty{{end}}', out: 'empty' },
  { tpl: '{{slice .Id 0 12}} {{slice .Config.Env 1 2}} {{slice "abcdef" 2}}', out: '985039e6e3a8 [HTML=<b>&] cdef' },
  {
    tpl: '{{html "<a href=\'x\'>"}} {{js "it\'s \\"q\\" <b>"}} {{urlquery "a b&c=d/é"}}',
    out: '&lt;a href=&#39;x&#39;&gt; it\\\'s \\"q\\" \\u003Cb\\u003E a+b%26c%3Dd%2F%C3%A9',
  },
  { tpl: '{{print "a" 1 2 "b"}} {{println "x" 3}}', out: 'a1 2b x 3\n' },
  { tpl: '{{range 3}}{{.}}{{end}}', out: '012' },
  { tpl: '{{json .HostConfig.RestartPolicy}}', out: '{"Name":"no","MaximumRetryCount":0}' },
  { tpl: '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}', out: 'no 0' },
  { tpl: '{{.State.Pid}} {{.HostConfig.CpuShares}} {{.State.Running}}', out: '0 0 false' },
  {
    tpl: '{{json .Config.Cmd}} {{json .Config.Volumes}} {{json .HostConfig.Dns}}',
    out: '["sh","-c","echo hi"] null []',
  },
  { tpl: '{{(index .Mounts 0).RW}}', out: 'true' },
  {
    tpl: '{{range .Config.Cmd}}{{$.Config.Image}}/{{.}} {{end}}',
    out: 'shoal-test/busybox:1/sh shoal-test/busybox:1/-c shoal-test/busybox:1/echo hi ',
  },
  {
    tpl: '{{printf "%5.1f|%x|%X|%o|%b|%c|%U|%+d|%05d|%#x|%e|%g|%t|%T|%T" 3.14159 "hi" 255 8 5 65 65 3 -42 255 1234.5 0.000012 true .Name 1.5}}',
    out: '  3.1|6869|FF|10|101|A|U+0041|+3|-0042|0xff|1.234500e+03|1.2e-05|true|string|float64',
  },
  {
    tpl: '{{printf "%d"}} {{printf "%d" "x" 4}} {{printf "%!" 1}} {{printf "%%"}}',
    out: '%!d(MISSING) %!d(string=x)%!(EXTRA int=4) %!!(int=1) %',
  },
  {
    tpl: '{{1.5}} {{1e3}} {{0x1F}} {{1_000}} {{\'a\'}} {{-2}} {{1e21}} {{0.00001}} {{3.0}} {{1e6}} {{true}} {{"a\\tb"}} {{`raw`}}',
    out: '1.5 1000 31 1000 97 -2 1e+21 1e-05 3 1e+06 true a\tb raw',
  },
  { tpl: '{{json "<a&b>"}} {{json 1.5}} {{json .State.Running}}', out: '"<a&b>" 1.5 false' },
  { tpl: '{{if and .Config.Labels (not .State.Running)}}stopped with labels{{end}}', out: 'stopped with labels' },
  { tpl: '{{foo}}', err: 'template parsing error: template: :1: function "foo" not defined' },
  { tpl: '{{.Name', err: 'template parsing error: template: :1: unclosed action' },
  { tpl: '{{if .Name}}x', err: 'template parsing error: template: :1: unexpected EOF' },
  { tpl: '{{end}}', err: 'template parsing error: template: :1: unexpected {{end}}' },
  { tpl: '{{else}}', err: 'template parsing error: template: :1: unexpected {{else}}' },
  { tpl: '{{"abc}}', err: 'template parsing error: template: :1: unterminated quoted string' },
  { tpl: '{{(.Name}}', err: 'template parsing error: template: :1: unclosed left paren' },
  { tpl: '{{.Name)}}', err: 'template parsing error: template: :1: unexpected right paren' },
  { tpl: '{{$x}}', err: 'template parsing error: template: :1: undefined variable "$x"' },
  { tpl: '{{ 3.Foo }}', err: 'template parsing error: template: :1: bad number syntax: "3.F"' },
  {
    tpl: '{{range $i, $v, $w := .}}{{end}}',
    err: 'template parsing error: template: :1: too many declarations in range',
  },
  { tpl: '{{/* x */ .Name}}', err: 'template parsing error: template: :1: comment ends before closing delimiter' },
  { tpl: '{{ . | 3 }}', err: 'template parsing error: template: :1: non executable command in pipeline stage 2' },
  { tpl: '{{break}}', err: 'template parsing error: template: :1: {{break}} outside {{range}}' },
  { tpl: '{{if}}{{end}}', err: 'template parsing error: template: :1: missing value for if' },
  { tpl: '{{with $x := 1}}{{end}}{{$x}}', err: 'template parsing error: template: :1: undefined variable "$x"' },
  {
    tpl: '{{.Name | printf "%s" | nosuch}}',
    err: 'template parsing error: template: :1: function "nosuch" not defined',
  },
  {
    tpl: '{{len 3}}',
    err: 'template parsing error: template: :1:2: executing "" at <len 3>: error calling len: len of type int',
  },
  {
    tpl: '{{eq 1 "a"}}',
    err: 'template parsing error: template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison',
  },
  { tpl: '{{nil}}', err: 'template parsing error: template: :1:2: executing "" at <nil>: nil is not a command' },
  { tpl: '{{upper 3}}', err: 'template parsing error: template: :1:8: executing "" at <3>: expected string; found 3' },
  {
    tpl: '{{truncate .Name "4"}}',
    err: 'template parsing error: template: :1:17: executing "" at <"4">: expected integer; found "4"',
  },
  {
    tpl: '{{upper}}',
    err: 'template parsing error: template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 0',
  },
  {
    tpl: '{{index .Config.Env 5}}',
    err: 'template parsing error: template: :1:2: executing "" at <index .Config.Env 5>: error calling index: index out of range: 5',
  },
  {
    tpl: '{{index 3 1}}',
    err: 'template parsing error: template: :1:2: executing "" at <index 3 1>: error calling index: can\'t index item of type int',
  },
  {
    tpl: '{{lt .Config.Labels 1}}',
    err: 'template parsing error: template: :1:2: executing "" at <lt .Config.Labels 1>: error calling lt: invalid type for comparison',
  },
  {
    tpl: '{{printf}}',
    err: 'template parsing error: template: :1:2: executing "" at <printf>: wrong number of args for printf: want at least 1 got 0',
  },
  {
    tpl: '{{range .Name}}{{end}}',
    err: 'template parsing error: template: :1:8: executing "" at <.Name>: range can\'t iterate over /tpl-test-1',
  },
  {
    tpl: '{{printf "%s" "x" | len | upper}}',
    err: 'template parsing error: template: :1:26: executing "" at <upper>: wrong type for value; expected string; got int',
  },
  { tpl: 'line1\n{{.Name}}\n{{if}}', err: 'template parsing error: template: :3: missing value for if' },
];

/** `docker image ls --filter 'reference=shoal-test/*' --format TPL`: the whole stdout. */
const imageListCases: Case[] = [
  {
    tpl: 'table {{.Repository}}\\t{{.Tag}}',
    out: 'REPOSITORY           TAG\nshoal-test/fail      1\nshoal-test/busybox   2\nshoal-test/busybox   1\n',
  },
  {
    tpl: 'table {{.Repository}}:{{.Tag}}\\t{{.ID}}',
    out: 'REPOSITORY:TAG         IMAGE ID\nshoal-test/fail:1      72bc654c248f\nshoal-test/busybox:2   54986781bc49\nshoal-test/busybox:1   ce2062e1e6c6\n',
  },
  {
    tpl: 'table {{.Repository}}\\t{{.Tag}}\\t{{pad .ID 1 2}}|{{upper .Tag}}|{{len .Tag}}',
    out: 'REPOSITORY           TAG        IMAGE ID  |TAG|3\nshoal-test/fail      1          72bc654c248f  |1|1\nshoal-test/busybox   2          54986781bc49  |2|1\nshoal-test/busybox   1          ce2062e1e6c6  |1|1\n',
  },
  { tpl: '{{.Repository}}\\t{{.Tag}}', out: 'shoal-test/fail\t1\nshoal-test/busybox\t2\nshoal-test/busybox\t1\n' },
  {
    tpl: 'table {{json .Repository}}\\t{{lower .Tag}}\\t{{truncate .ID 5}}',
    out: 'REPOSITORY             TAG       IMAGE ID\n"shoal-test/fail"      1         72bc6\n"shoal-test/busybox"   2         54986\n"shoal-test/busybox"   1         ce206\n',
  },
  { tpl: '  {{.Repository}}:{{.Tag}}  ', out: 'shoal-test/fail:1\nshoal-test/busybox:2\nshoal-test/busybox:1\n' },
  {
    tpl: 'table {{title .Repository}}\\n{{.ID}}',
    out: 'REPOSITORY\nIMAGE ID\nShoal-Test/Fail\n72bc654c248f\nShoal-Test/Busybox\n54986781bc49\nShoal-Test/Busybox\nce2062e1e6c6\n',
  },
  { tpl: '{{json .Repository}}', out: '"shoal-test/fail"\n"shoal-test/busybox"\n"shoal-test/busybox"\n' },
];

const imageHeaders = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID' };

describe('go templates against docker', () => {
  for (const c of inspectCases)
    it(`inspect ${JSON.stringify(c.tpl)}`, () => check(c, () => renderTemplate(c.tpl, container)));
  for (const c of imageListCases)
    it(`image ls ${JSON.stringify(c.tpl)}`, () => check(c, () => formatList(c.tpl, images, imageHeaders)));
});
