/**
 * `docker events` through shoal against the same scenario on a real Docker Swarm. The reference was
 * captured once from `docker swarm init` on the local engine (fixtures/docker-swarm-events.jsonl,
 * from fixtures/events-scenario.sh: service create, scale, image update, node drain and active,
 * service rm, network, secret and config create and rm); this test runs the same script against a
 * shoal daemon and asserts the same events in the same order: Type, Action, scope and every
 * Actor attribute, with IDs, the node's name and times normalised.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DOCKER, ROOT, ShoalProcess, ok } from './support.js';

const LISTEN = '127.0.0.1:4473';
const FIXTURES = path.join(ROOT, 'test/integration/fixtures');

interface RawEvent {
  Type: string;
  Action: string;
  scope: string;
  time: number;
  timeNano: number;
  Actor: { ID: string; Attributes: Record<string, string> };
}

/**
 * One event without what differs between runs: IDs become their order of first appearance (so "the
 * same service" still holds), the node's hostname becomes NODE, times go (their order is checked).
 */
function normalise(events: RawEvent[], nodeName: string): string[] {
  const ids = new Map<string, string>();
  return events.map((e) => {
    if (!ids.has(e.Actor.ID)) ids.set(e.Actor.ID, `id${ids.size + 1}`);
    const attrs = Object.entries(e.Actor.Attributes)
      .map(([k, v]) => `${k}=${k === 'name' && v === nodeName ? 'NODE' : v}`)
      .sort();
    return `${e.Type} ${e.Action} ${e.scope} ${ids.get(e.Actor.ID)} {${attrs.join(', ')}}`;
  });
}

function parse(text: string): RawEvent[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RawEvent);
}

describe('docker events: shoal against a real Docker Swarm', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;
  let events: ChildProcess | undefined;
  let captured = '';

  before(async () => {
    shoal = await ShoalProcess.create('it-events');
    shoal.extraArgs = ['--listen-addr', LISTEN];
    await shoal.start();
    shoal.docker(['swarm', 'init', '--listen-addr', LISTEN, '--advertise-addr', '127.0.0.1']);
    shoal.rememberNodeId();
  });

  after(async () => {
    events?.kill();
    await shoal?.cleanup();
  });

  it('gives the same swarm events as Docker for the scripted scenario', async () => {
    events = spawn(DOCKER, ['events', '--filter', 'scope=swarm', '--format', '{{json .}}'], {
      env: { ...process.env, ...shoal.env() },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    events.stdout?.on('data', (d: Buffer) => (captured += d.toString()));
    await new Promise((r) => setTimeout(r, 1000));
    ok('bash', [path.join(FIXTURES, 'events-scenario.sh')], shoal.env(), 180_000);
    await new Promise((r) => setTimeout(r, 2000));
    events.kill();
    events = undefined;

    const docker = parse(readFileSync(path.join(FIXTURES, 'docker-swarm-events.jsonl'), 'utf8'));
    const ours = parse(captured);
    const want = normalise(docker, 'vm');
    const got = normalise(ours, 'it-events');
    console.log(`# docker: ${want.length} events, shoal: ${got.length} events`);
    assert.deepEqual(got, want, `shoal's events:\n${got.join('\n')}\n\ndocker's:\n${want.join('\n')}`);
    for (let i = 1; i < ours.length; i++) assert.ok(ours[i]!.timeNano >= ours[i - 1]!.timeNano, 'events in time order');
    for (const e of ours) assert.equal(Math.floor(e.timeNano / 1e9), e.time);
  });
});
