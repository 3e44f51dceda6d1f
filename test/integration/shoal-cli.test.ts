/** The same walking-skeleton scenario through shoal's own CLI (bin/shoal) against a real daemon. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { containersOf, ShoalProcess, waitFor } from './support.js';

describe('bin/shoal against shoal (one manager)', { timeout: 600_000 }, () => {
  let shoal: ShoalProcess;

  before(async () => {
    shoal = await ShoalProcess.create('it-shoal');
    await shoal.start();
  });
  after(async () => {
    await shoal.cleanup();
  });

  it('initialises the swarm and lists this node', () => {
    const out = shoal.shoal(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    assert.match(
      out,
      /^Swarm initialized: current node \([a-z0-9]{25}\) is now a manager\.\n\nTo add a worker to this swarm, run the following command:\n\n    docker swarm join --token SWMTKN-1-/,
    );
    shoal.rememberNodeId();
    assert.match(shoal.shoal(['info']), /Swarm: active\n  NodeID: [a-z0-9]{25}\n  Is Manager: true/);
    const ls = shoal.shoal(['node', 'ls']).split('\n');
    assert.match(ls[0]!, /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION$/);
    assert.match(ls[1]!, /^[a-z0-9]{25} \*\s+it-shoal\s+Ready\s+Active\s+Leader\s+20\.10/);
    assert.equal(shoal.shoal(['swarm', 'ca']), shoal.docker(['swarm', 'ca']).trimEnd() + '\n');
  });

  it('creates, scales, updates and removes a service, with progress', async () => {
    const created = shoal.shoal(
      [
        'service',
        'create',
        '--replicas',
        '3',
        '--name',
        'web',
        '--stop-grace-period',
        '1s',
        'shoal-test/busybox:1',
        'sleep',
        '3600',
      ],
      180_000,
    );
    assert.match(created, /overall progress: 3 out of 3 tasks/);
    assert.match(created, /verify: Service [a-z0-9]{25} converged/);
    assert.equal(containersOf('web').length, 3);
    assert.match(
      shoal.shoal(['service', 'ls']),
      /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS\n[a-z0-9]{12}\s+web\s+replicated\s+3\/3\s+shoal-test\/busybox:1 {3}\n$/,
    );
    const ps = shoal.shoal(['service', 'ps', 'web']).trim().split('\n');
    assert.equal(ps.length, 4);
    assert.ok(
      ps.slice(1).every((l) => /web\.[123]\s+shoal-test\/busybox:1\s+it-shoal\s+Running\s+Running /.test(l)),
      ps.join('\n'),
    );

    assert.match(
      shoal.shoal(['service', 'scale', 'web=5'], 180_000),
      /web scaled to 5[\s\S]*overall progress: 5 out of 5 tasks/,
    );
    assert.equal(containersOf('web').length, 5);

    shoal.shoal(['service', 'update', '--image', 'shoal-test/busybox:2', 'web'], 300_000);
    assert.ok(containersOf('web').every((c) => c.image === 'shoal-test/busybox:2'));
    const history = shoal
      .shoal(['service', 'ps', 'web'])
      .split('\n')
      .filter((l) => l.includes('\\_ web.'));
    assert.equal(history.length, 5);
    assert.match(shoal.shoal(['service', 'inspect', '--pretty', 'web']), /Image:\s+shoal-test\/busybox:2/);
    assert.equal(
      JSON.parse(shoal.shoal(['service', 'inspect', 'web']))[0].Spec.TaskTemplate.ContainerSpec.Image,
      'shoal-test/busybox:2',
    );

    shoal.shoal([
      'service',
      'create',
      '-d',
      '--name',
      'talker',
      'shoal-test/busybox:1',
      'sh',
      '-c',
      'echo hi from $HOSTNAME; sleep 3600',
    ]);
    const logs = await waitFor('a log line', () => {
      const o = shoal.shoal(['service', 'logs', 'talker']);
      return o.includes('hi from') ? o : undefined;
    });
    assert.match(logs, /^talker\.1\.[a-z0-9]{12}@it-shoal\s+\| hi from /);

    assert.equal(shoal.shoal(['service', 'rm', 'web', 'talker']), 'web\ntalker\n');
    await waitFor(
      'no containers left',
      () => containersOf('web', true).length === 0 && containersOf('talker', true).length === 0,
      120_000,
      250,
      () => shoal.explain('web')() + shoal.explain('talker')(),
    );
  });

  it('prints daemon errors like docker', () => {
    const r = shoal.dockerRaw(['service', 'inspect', 'missing']);
    assert.notEqual(r.code, 0);
    let failed = false;
    try {
      shoal.shoal(['service', 'rm', 'missing']);
    } catch (e) {
      failed = true;
      assert.match(String(e), /Error response from daemon: service missing not found/);
    }
    assert.ok(failed);
  });

  it('leaves the swarm', () => {
    assert.equal(shoal.shoal(['swarm', 'leave', '--force']), 'Node left the swarm.\n');
  });
});
