/**
 * Attachable overlays on one real daemon and the real engine, through the unmodified docker CLI:
 * `docker run --network NAME` on an attachable overlay gets an address from the overlay's subnet
 * (allocated by the manager), resolves a service by name through the embedded DNS and reaches it
 * through its VIP; the address is released when the container goes; a non-attachable overlay is
 * refused with Docker's message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DOCKER, run, RUNTIME, ShoalProcess, waitFor } from './support.js';

const LISTEN = '127.0.0.1:4461';
const BUSYBOX = 'shoal-test/busybox:1';
const HTTPD = 'shoal-test/httpd:1';
const NET = 'att-net';
const PLAIN = 'att-plain';
const SUBNET = '10.231.7.0/24';

describe('attachable overlays', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;

  before(async () => {
    shoal = await ShoalProcess.create('it-attachable');
    await shoal.start();
    shoal.docker(['swarm', 'init', '--listen-addr', LISTEN, '--advertise-addr', '127.0.0.1']);
    shoal.rememberNodeId();
    shoal.docker(['network', 'create', '-d', 'overlay', '--attachable', '--subnet', SUBNET, NET]);
    shoal.docker(['network', 'create', '-d', 'overlay', PLAIN]);
    shoal.docker(['service', 'create', '--detach', '--name', 'web', '--network', NET, HTTPD]);
    await waitFor(
      'web running',
      () => shoal.docker(['service', 'ps', 'web', '--format', '{{.CurrentState}}']).startsWith('Running'),
      60_000,
      250,
      shoal.explain('web'),
    );
  });

  after(async () => {
    run(DOCKER, ['rm', '-f', 'att-c1', 'att-c2'], shoal.env());
    run(DOCKER, ['service', 'rm', 'web'], shoal.env());
    await waitFor(
      'web gone',
      () => !run(DOCKER, ['service', 'ps', 'web'], shoal.env()).stdout.includes('web.1'),
      30_000,
    ).catch(() => undefined);
    const ids = run(DOCKER, ['network', 'ls', '-q', '--filter', 'driver=overlay', '--no-trunc'], shoal.env())
      .stdout.split('\n')
      .filter(Boolean);
    run(DOCKER, ['network', 'rm', NET, PLAIN], shoal.env());
    // The agent takes the overlay's bridge, VXLAN device and Docker network down; wait for it.
    const mine = ids.map((id) => `shl-${id.slice(0, 10)}`);
    const left = (): string[] => mine.filter((n) => run('ip', ['link', 'show', n]).code === 0);
    await waitFor('the overlays removed from the host', () => left().length === 0, 20_000).catch(() => undefined);
    for (const n of left()) {
      run(DOCKER, ['network', 'rm', n], { DOCKER_HOST: RUNTIME });
      run('ip', ['link', 'del', n]);
      run('ip', ['link', 'del', n.replace(/^shl-/, 'shv-')]);
    }
    await shoal.cleanup();
  });

  it('docker run --network reaches a service by name, with an address from the overlay', () => {
    const t0 = Date.now();
    const r = run(DOCKER, ['run', '--rm', '--network', NET, BUSYBOX, 'wget', '-qO-', 'http://web/'], shoal.env());
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${shoal.log.split('\n').slice(-40).join('\n')}`);
    assert.ok(r.stdout.length > 0, 'the page');
    console.log(`docker run --network ${NET} wget http://web/: ${Date.now() - t0} ms`);
    const ip = run(
      DOCKER,
      ['run', '--rm', '--network', NET, BUSYBOX, 'sh', '-c', "ip -4 -o addr show eth0 | awk '{print $4}'"],
      shoal.env(),
    );
    assert.equal(ip.code, 0, ip.stderr);
    assert.match(ip.stdout.trim(), /^10\.231\.7\.\d+\/24$/);
  });

  it('releases the address when the container goes: the same --ip can be taken again', async () => {
    const want = '10.231.7.200';
    const a = run(
      DOCKER,
      ['run', '-d', '--name', 'att-c1', '--network', NET, '--ip', want, BUSYBOX, 'sleep', '300'],
      shoal.env(),
    );
    assert.equal(a.code, 0, a.stderr);
    // Taken while att-c1 lives.
    const b = run(DOCKER, ['run', '--rm', '--network', NET, '--ip', want, BUSYBOX, 'true'], shoal.env());
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /Address already in use/);
    assert.equal(run(DOCKER, ['rm', '-f', 'att-c1'], shoal.env()).code, 0);
    await waitFor(
      'the address released',
      () => run(DOCKER, ['run', '--rm', '--network', NET, '--ip', want, BUSYBOX, 'true'], shoal.env()).code === 0,
      15_000,
    );
  });

  it('network connect and disconnect attach a running container', () => {
    assert.equal(run(DOCKER, ['run', '-d', '--name', 'att-c2', BUSYBOX, 'sleep', '300'], shoal.env()).code, 0);
    const c = run(DOCKER, ['network', 'connect', NET, 'att-c2'], shoal.env());
    assert.equal(c.code, 0, c.stderr);
    const addr = (): string => run(DOCKER, ['exec', 'att-c2', 'ip', '-4', '-o', 'addr'], shoal.env()).stdout;
    assert.match(addr(), /inet 10\.231\.7\.\d+\/24/);
    // The default bridge's container keeps the host's resolvers (no embedded DNS): reach the VIP by address.
    const vip = shoal.docker(['service', 'inspect', 'web', '--format', '{{(index .Endpoint.VirtualIPs 0).Addr}}']);
    const w = run(
      DOCKER,
      ['exec', 'att-c2', 'wget', '-qO-', `http://${vip.trim().replace(/\/\d+$/, '')}/`],
      shoal.env(),
    );
    assert.equal(w.code, 0, w.stderr);
    const d = run(DOCKER, ['network', 'disconnect', NET, 'att-c2'], shoal.env());
    assert.equal(d.code, 0, d.stderr);
    assert.doesNotMatch(addr(), /10\.231\.7\./);
  });

  it('refuses a non-attachable overlay with Docker message', () => {
    const r = run(DOCKER, ['run', '--rm', '--network', PLAIN, BUSYBOX, 'true'], shoal.env());
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(
        `Could not attach to network ${PLAIN}: rpc error: code = PermissionDenied desc = network ${PLAIN} not manually attachable`,
      ),
    );
  });
});
