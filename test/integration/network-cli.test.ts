/**
 * The shapes of the network commands through the unmodified docker CLI v28 against a shoal daemon,
 * compared with what real Docker Swarm printed for the same commands (a capture taken once from the
 * local engine in swarm mode: fixtures/docker-swarm-network/, see its README). IDs, times, subnets,
 * VXLAN ids and peer names are normalised; everything else (keys, order, nulls vs empty objects,
 * table columns, messages, exit codes) must match.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, ShoalProcess, waitFor } from './support.js';

const FIXTURES = path.join(ROOT, 'test/integration/fixtures/docker-swarm-network');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

/** Docker's 25-character object IDs, their 12-character table form, and RFC 3339 times. */
function normaliseText(s: string): string {
  return s
    .replace(/\b[a-z0-9]{25}\b/g, '<ID>')
    .replace(/^[a-z0-9]{12}(?=\s)/gm, '<SHORTID>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, '<TIME>');
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A parsed `network inspect` with the values that differ between clusters replaced by placeholders. */
function normaliseInspect(text: string): Json {
  const walk = (v: Json, key: string): Json => {
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    }
    if (typeof v !== 'string') return v;
    switch (key) {
      case 'Id':
        return /^[a-z0-9]{25}$/.test(v) ? '<ID>' : `<BAD ID ${v}>`;
      case 'Created':
        return Number.isNaN(Date.parse(v)) ? `<BAD TIME ${v}>` : '<TIME>';
      case 'Subnet':
        return /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(v) ? '<SUBNET>' : `<BAD SUBNET ${v}>`;
      case 'Gateway':
      case 'IP':
        return /^\d+\.\d+\.\d+\.\d+$/.test(v) ? '<IP>' : `<BAD IP ${v}>`;
      case 'com.docker.network.driver.overlay.vxlanid_list':
        return /^\d+$/.test(v) && Number(v) >= 4096 ? '<VNI>' : `<BAD VNI ${v}>`;
      default:
        return v;
    }
  };
  const parsed = JSON.parse(text) as Json;
  // Peers name the hosts (a hash of the node name in Docker): keep the shape, not the names.
  const peers = (v: Json): Json =>
    Array.isArray(v)
      ? v.map(peers)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v).map(([k, x]) =>
              k === 'Peers' && Array.isArray(x)
                ? [
                    k,
                    x.map((p) =>
                      p !== null && typeof p === 'object' && !Array.isArray(p) ? { ...p, Name: '<PEER>' } : p,
                    ),
                  ]
                : [k, peers(x)],
            ),
          )
        : v;
  return walk(peers(parsed), '');
}

describe('docker network commands against shoal have Docker Swarm shapes', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;

  before(async () => {
    shoal = await ShoalProcess.create('it-network-cli');
    await shoal.start();
    shoal.docker(['swarm', 'init']);
    shoal.rememberNodeId();
  });
  after(async () => {
    shoal.dockerRaw(['network', 'rm', 'demo']);
    await shoal.cleanup();
  });

  it('network create -d overlay prints the new ID, as Docker does', () => {
    const r = shoal.dockerRaw(['network', 'create', '-d', 'overlay', 'demo']);
    assert.equal(`${normaliseText(r.stdout)}rc=${r.code}\n`, normaliseText(fixture('create.txt')));
    assert.equal(r.stderr, '');
  });

  it('network ls --filter driver=overlay lists the swarm networks in Docker table shape', () => {
    const out = shoal.docker(['network', 'ls', '--filter', 'driver=overlay']);
    assert.equal(normaliseText(out), normaliseText(fixture('ls.txt')));
  });

  it('network inspect demo has Docker shape: keys, order, nulls, options', () => {
    const out = shoal.docker(['network', 'inspect', 'demo']);
    assert.deepEqual(normaliseInspect(out), normaliseInspect(fixture('inspect.txt')));
    // Subnets are normalised above; the default pool must still give the first free /24 after ingress.
    assert.match(out, /"Subnet": "10\.0\.1\.0\/24"/);
  });

  it('network inspect ingress has Docker shape, Peers included', () => {
    const out = shoal.docker(['network', 'inspect', 'ingress']);
    assert.deepEqual(normaliseInspect(out), normaliseInspect(fixture('inspect-ingress.txt')));
  });

  it('network rm prints the name, then inspect fails as Docker does', () => {
    const rm = shoal.dockerRaw(['network', 'rm', 'demo']);
    assert.equal(`${rm.stdout}rc=${rm.code}\n`, fixture('rm.txt'));
    const gone = shoal.dockerRaw(['network', 'inspect', 'demo']);
    assert.equal(`${gone.stdout}${gone.stderr}rc=${gone.code}\n`, fixture('inspect-missing.txt'));
  });

  it('an attachable overlay with a label and a subnet has Docker shape', () => {
    shoal.docker([
      'network',
      'create',
      '-d',
      'overlay',
      '--attachable',
      '--label',
      'a=b',
      '--subnet',
      '10.77.0.0/24',
      'demo',
    ]);
    const out = shoal.docker(['network', 'inspect', 'demo']);
    assert.deepEqual(normaliseInspect(out), normaliseInspect(fixture('inspect-attachable.txt')));
    assert.match(out, /"Subnet": "10\.77\.0\.0\/24"/);
    shoal.docker(['network', 'rm', 'demo']);
  });

  it('inspect on a node with a task of the network lists its container, as Docker does', async () => {
    shoal.docker(['network', 'create', '-d', 'overlay', 'withtask']);
    shoal.docker([
      'service',
      'create',
      '-d',
      '--name',
      'nwt',
      '--network',
      'withtask',
      'shoal-test/busybox:1',
      'sleep',
      '1000',
    ]);
    try {
      const containers = async (): Promise<Record<string, Record<string, string>> | undefined> => {
        const v = JSON.parse(
          shoal.docker(['network', 'inspect', '--format', '{{json .Containers}}', 'withtask']),
        ) as Record<string, Record<string, string>> | null;
        return v && Object.keys(v).length > 0 ? v : undefined;
      };
      const listed = await waitFor('the task container in the network inspect', containers, 120_000);
      const [id, ep] = Object.entries(listed)[0]!;
      assert.equal(Object.keys(listed).length, 1);
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.deepEqual(Object.keys(ep).sort(), ['EndpointID', 'IPv4Address', 'IPv6Address', 'MacAddress', 'Name']);
      assert.match(ep.Name!, /^nwt\.1\.[0-9a-z]{25}$/);
      const taskAddr = shoal
        .docker([
          'inspect',
          '--format',
          '{{range .NetworksAttachments}}{{range .Addresses}}{{.}}{{end}}{{end}}',
          ep.Name!.split('.')[2]!,
        ])
        .trim();
      assert.equal(ep.IPv4Address, taskAddr, 'the address the managers allocated');
    } finally {
      shoal.docker(['service', 'rm', 'nwt']);
      await waitFor('the network free again', () => shoal.dockerRaw(['network', 'rm', 'withtask']).code === 0, 60_000);
    }
  });
});
