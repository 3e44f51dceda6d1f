/**
 * The walking skeleton's end-to-end scenario, through the unmodified docker CLI v28 pointed at a
 * real shoal daemon, with real containers on the local Docker Engine.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { caDigest, parseJoinToken } from '../../src/manager/ca/join-token.js';
import { containersOf, DOCKER, engine, ShoalProcess, waitFor } from './support.js';

describe('docker CLI against shoal (one manager)', { timeout: 600_000 }, () => {
  let shoal: ShoalProcess;

  before(async () => {
    shoal = await ShoalProcess.create('it-docker');
    await shoal.start();
  });
  after(async () => {
    await shoal.cleanup();
  });

  it('answers swarm commands with "not a swarm manager" before init', () => {
    const r = shoal.dockerRaw(['node', 'ls']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /This node is not a swarm manager\. Use "docker swarm init" or "docker swarm join"/);
    const info = shoal.docker(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim();
    assert.equal(info, 'inactive');
  });

  it('swarm init makes a one-manager cluster', () => {
    const out = shoal.docker(['swarm', 'init']);
    assert.match(out, /Swarm initialized: current node \([a-z0-9]{25}\) is now a manager\./);
    assert.match(out, /docker swarm join --token SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25} 127\.0\.0\.1:2377/);
    const nodeId = shoal.rememberNodeId();
    assert.equal(nodeId.length, 25);
    // The root CA: a real certificate, pinned by the digest part of the join token.
    const ca = shoal.docker(['swarm', 'ca']);
    assert.match(ca, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n*$/);
    assert.equal(new X509Certificate(ca).subject, 'CN=swarm-ca');
    const token = /--token (SWMTKN-\S+)/.exec(out)![1]!;
    assert.equal(parseJoinToken(token)?.digest, caDigest(`${ca.trimEnd()}\n`));
    const again = shoal.dockerRaw(['swarm', 'init']);
    assert.match(again.stderr, /This node is already part of a swarm/);
    const info = shoal.docker(['info']);
    assert.match(info, /Swarm: active/);
    assert.match(info, /Is Manager: true/);
    assert.match(info, /Managers: 1/);
    assert.match(info, /Nodes: 1/);
  });

  it('node ls shows this node as the leader', () => {
    const lines = shoal.docker(['node', 'ls']).trim().split('\n');
    assert.match(lines[0]!, /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION/);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /^[a-z0-9]{25} \*\s+it-docker\s+Ready\s+Active\s+Leader\s+20\.10/);
  });

  it('service create converges with progress, service ps and docker ps agree', () => {
    const out = shoal.docker(
      ['service', 'create', '--replicas', '3', '--name', 'web', 'shoal-test/busybox:1', 'sleep', '3600'],
      180_000,
    );
    assert.match(out, /^[a-z0-9]{25}\n/);
    assert.match(out, /overall progress: 3 out of 3 tasks/);
    assert.match(out, /verify: Service \S+ converged/);
    const ps = shoal
      .docker(['service', 'ps', 'web', '--format', '{{.Name}} {{.CurrentState}} {{.DesiredState}}'])
      .trim()
      .split('\n');
    assert.equal(ps.length, 3);
    for (const l of ps) assert.match(l, /^web\.[123] Running .* Running$/);
    const running = containersOf('web');
    assert.equal(running.length, 3);
    assert.ok(running.every((c) => c.image === 'shoal-test/busybox:1' && c.state === 'running'));
    assert.ok(
      running.every((c) => /^web\.[123]\.[a-z0-9]{25}$/.test(c.name)),
      running.map((c) => c.name).join(','),
    );
    const ls = shoal.docker(['service', 'ls']);
    assert.match(ls, /web\s+replicated\s+3\/3\s+shoal-test\/busybox:1/);
  });

  it('service scale adds slots', () => {
    const out = shoal.docker(['service', 'scale', 'web=5'], 180_000);
    assert.match(out, /web scaled to 5/);
    assert.match(out, /overall progress: 5 out of 5 tasks/);
    assert.equal(containersOf('web').length, 5);
  });

  it('service update --image replaces every task and keeps history', () => {
    const out = shoal.docker(['service', 'update', '--image', 'shoal-test/busybox:2', 'web'], 300_000);
    assert.match(out, /^web\n/);
    assert.match(out, /verify: Service \S+ converged/);
    const running = containersOf('web');
    assert.equal(running.length, 5);
    assert.ok(
      running.every((c) => c.image === 'shoal-test/busybox:2'),
      JSON.stringify(running),
    );
    const ps = shoal.docker(['service', 'ps', 'web']).trim().split('\n');
    const history = ps.filter((l) => l.includes('\\_ web.'));
    assert.equal(history.length, 5, ps.join('\n'));
    assert.ok(
      history.every((l) => /shoal-test\/busybox:1\s+it-docker\s+Shutdown\s+Shutdown/.test(l)),
      ps.join('\n'),
    );
  });

  it('service logs streams the lines of every task', async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--replicas',
      '2',
      '--name',
      'talker',
      'shoal-test/busybox:1',
      'sh',
      '-c',
      'echo hello from $HOSTNAME; sleep 3600',
    ]);
    await waitFor('talker running', () => containersOf('talker').length === 2);
    const out = await waitFor('two log lines', () => {
      const o = shoal.docker(['service', 'logs', 'talker']);
      return o.trim().split('\n').length >= 2 ? o : undefined;
    });
    const lines = out.trim().split('\n');
    assert.ok(
      lines.every((l) => /^talker\.[12]\.[a-z0-9]+@it-docker\s+\| hello from /.test(l)),
      out,
    );
    assert.equal(shoal.dockerRaw(['service', 'logs', 'web']).code, 0);
    shoal.docker(['service', 'rm', 'talker']);
  });

  it('replaces a container removed behind its back, showing the failure in history', async () => {
    shoal.docker(['service', 'update', '-d', '--restart-delay', '1s', 'web']);
    // A restart-policy change is a task-spec change: every task is replaced, one at a time.
    await waitFor(
      'web updated after restart-delay change',
      () =>
        shoal
          .docker(['service', 'inspect', '--format', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}', 'web'])
          .trim() === 'completed' && containersOf('web').length === 5,
      240_000,
      250,
      shoal.explain('web'),
    );
    await new Promise((r) => setTimeout(r, 1000));
    const victim = containersOf('web')[0]!;
    engine(['rm', '-f', victim.id]);
    await waitFor('a replacement', () => {
      const c = containersOf('web');
      return c.length === 5 && !c.some((x) => x.id === victim.id);
    });
    const slot = victim.name.split('.')[1];
    const ps = shoal.docker(['service', 'ps', 'web', '--filter', `name=web.${slot}`]);
    assert.match(ps, /\\_ web\.\d+\s+shoal-test\/busybox:2\s+it-docker\s+Shutdown\s+Failed /, ps);
  });

  it('keeps services and containers across kill -9 of the daemon, nothing duplicated', async () => {
    const before = containersOf('web')
      .map((c) => c.id)
      .sort();
    const services = shoal.docker(['service', 'ls', '-q']);
    await shoal.kill9();
    assert.equal(containersOf('web').length, 5, 'containers keep running while the daemon is down');
    await shoal.start();
    assert.equal(shoal.docker(['service', 'ls', '-q']), services);
    await new Promise((r) => setTimeout(r, 3000));
    const after = containersOf('web')
      .map((c) => c.id)
      .sort();
    assert.deepEqual(after, before, 'the same containers are adopted, none added or removed');
    await waitFor('5/5 after restart', () =>
      shoal.docker(['service', 'ls', '--format', '{{.Replicas}}']).includes('5/5'),
    );
  });

  it('service rm removes every container of the service', async () => {
    shoal.docker(['service', 'rm', 'web']);
    await waitFor(
      'no web containers',
      () => containersOf('web', true).length === 0,
      120_000,
      250,
      shoal.explain('web'),
    );
    assert.equal(shoal.docker(['service', 'ls', '-q']).trim(), '');
  });

  it("rejects bad input with Docker's errors and changes nothing", () => {
    const dup = shoal.dockerRaw(['service', 'create', '-d', '--name', 'dup', 'shoal-test/busybox:1', 'sleep', '60']);
    assert.equal(dup.code, 0, dup.stderr);
    const again = shoal.dockerRaw(['service', 'create', '-d', '--name', 'dup', 'shoal-test/busybox:1', 'sleep', '60']);
    assert.match(again.stderr, /name conflicts with an existing object: service dup already exists/);
    const bad = shoal.dockerRaw([
      'service',
      'create',
      '-d',
      '--name',
      'bad',
      '--constraint',
      'node.labels.x~=y',
      'shoal-test/busybox:1',
    ]);
    assert.notEqual(bad.code, 0);
    assert.equal(shoal.docker(['service', 'ls', '--format', '{{.Name}}']).trim(), 'dup');
    const missing = shoal.dockerRaw(['service', 'inspect', 'nope']);
    assert.match(missing.stderr, /no such service: nope|service nope not found/i);
    shoal.docker(['service', 'rm', 'dup']);
  });

  it('swarm leave --force stops its containers and forgets the swarm', async () => {
    shoal.docker([
      'service',
      'create',
      '-d',
      '--replicas',
      '2',
      '--name',
      'leaver',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    await waitFor('leaver running', () => containersOf('leaver').length === 2);
    const refused = shoal.dockerRaw(['swarm', 'leave']);
    assert.match(refused.stderr, /Removing the last manager erases all current state of the swarm/);
    assert.match(shoal.docker(['swarm', 'leave', '--force']), /Node left the swarm\./);
    assert.equal(containersOf('leaver', true).length, 0);
    assert.equal(shoal.docker(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'inactive');
    void DOCKER;
  });
});
