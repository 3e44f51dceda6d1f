/**
 * The overlay plumbing for real, in network namespaces on this machine: two "hosts" joined by a
 * veth underlay, each with the VXLAN device and host link of two overlays made by LinuxPlumbing,
 * and plain namespaces as containers (a macvlan link on the VXLAN device, as the engine's macvlan
 * driver makes, with the IP and MAC the allocator would give).
 * It proves cross-host ping and TCP, isolation between overlays, VIP round-robin and the routing
 * mesh with nftables, and that cleanup leaves nothing. Every name carries a `shoalnet-test-<rand>`
 * prefix; the namespaces (and with them every link and rule) are removed even when a step fails.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { netnsRunner } from '../../src/network/command-runner.js';
import { hostLinkName, vxlanName } from '../../src/network/device-names.js';
import { LinuxPlumbing } from '../../src/network/linux-plumbing.js';
import { hostLinkMacFor, macForIp } from '../../src/network/mac.js';
import { meshRuleset } from '../../src/network/mesh-rules.js';
import { egressRuleset } from '../../src/network/egress-rules.js';
import { goneRuleset } from '../../src/network/gone-rules.js';
import { vipRuleset } from '../../src/network/vip-rules.js';

const tag = `shoalnet-test-${randomBytes(3).toString('hex')}`;
const canRun =
  process.getuid?.() === 0 &&
  spawnSync('nft', ['--version']).status === 0 &&
  spawnSync('busybox', ['true']).status === 0;

function sh(cmd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

function must(cmd: string, args: string[]): string {
  const r = sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.out}`);
  return r.out;
}

const ns = (name: string): string => `${tag}-${name}`;
const inNs = (name: string, cmd: string[]): string[] => ['netns', 'exec', ns(name), ...cmd];

interface Host {
  name: string;
  underlay: string;
  plumbing: LinuxPlumbing;
}
interface Endpoint {
  name: string;
  host: Host;
  net: string;
  ip: string;
}

const NET_A = `neta${tag.slice(-6)}`;
const NET_B = `netb${tag.slice(-6)}`;
// Both overlays use the same subnet on purpose: isolation must come from the VNI, not routing.
const SUBNET_BITS = 24;

describe('overlay plumbing in network namespaces', { skip: canRun ? false : 'needs root, nft and busybox' }, () => {
  const made: string[] = [];
  const procs: ChildProcess[] = [];
  const www = mkdtempSync(path.join(tmpdir(), `${tag}-www-`));
  const h1: Host = {
    name: 'h1',
    underlay: '192.168.250.1',
    plumbing: new LinuxPlumbing(netnsRunner(`/var/run/netns/${ns('h1')}`)),
  };
  const h2: Host = {
    name: 'h2',
    underlay: '192.168.250.2',
    plumbing: new LinuxPlumbing(netnsRunner(`/var/run/netns/${ns('h2')}`)),
  };
  const eps: Endpoint[] = [
    { name: 'a1', host: h1, net: NET_A, ip: '10.0.1.11' },
    { name: 'a3', host: h1, net: NET_A, ip: '10.0.1.13' },
    { name: 'a2', host: h2, net: NET_A, ip: '10.0.1.12' },
    { name: 'a4', host: h2, net: NET_A, ip: '10.0.1.14' },
    { name: 'b2', host: h2, net: NET_B, ip: '10.0.2.50' },
  ];
  const ep = (name: string): Endpoint => eps.find((e) => e.name === name)!;
  const vni = (net: string): number => (net === NET_A ? 4097 : 4098);
  const gateway = (net: string): string => (net === NET_A ? '10.0.1.1/24' : '10.0.2.1/24');

  function addNs(name: string): void {
    must('ip', ['netns', 'add', ns(name)]);
    made.push(ns(name));
    must('ip', ['-n', ns(name), 'link', 'set', 'lo', 'up']);
  }

  /** A "container": a namespace with a macvlan link on the overlay's VXLAN device, its IP and Docker's MAC. */
  function attach(e: Endpoint, index: number): void {
    addNs(e.name);
    const link = `mvl${index}`;
    must('ip', [
      '-n',
      ns(e.host.name),
      'link',
      'add',
      link,
      'link',
      vxlanName(e.net),
      'type',
      'macvlan',
      'mode',
      'bridge',
    ]);
    must('ip', ['-n', ns(e.host.name), 'link', 'set', link, 'netns', ns(e.name)]);
    must('ip', ['-n', ns(e.name), 'link', 'set', link, 'name', 'eth0']);
    must('ip', ['-n', ns(e.name), 'link', 'set', 'eth0', 'address', macForIp(e.ip), 'up']);
    must('ip', ['-n', ns(e.name), 'addr', 'add', `${e.ip}/${SUBNET_BITS}`, 'dev', 'eth0']);
  }

  function serve(e: Endpoint): void {
    const dir = path.join(www, e.name);
    must('mkdir', ['-p', dir]);
    writeFileSync(path.join(dir, 'index.html'), `${e.name}\n`);
    const p = spawn('ip', inNs(e.name, ['busybox', 'httpd', '-f', '-p', '80', '-h', dir]), { stdio: 'ignore' });
    p.unref();
    procs.push(p);
  }

  /** One HTTP GET from a namespace; the body (a backend's name) or undefined on failure. */
  function get(from: string, url: string): string | undefined {
    // busybox wget's own -T crashes (segfault) here; timeout(1) bounds it instead.
    const r = sh('ip', inNs(from, ['busybox', 'timeout', '3', 'busybox', 'wget', '-q', '-O', '-', url]));
    return r.code === 0 ? r.out.trim() : undefined;
  }

  function ping(from: string, ip: string): boolean {
    return sh('ip', inNs(from, ['busybox', 'ping', '-c', '1', '-W', '2', ip])).code === 0;
  }

  async function waitServing(from: string, ip: string): Promise<void> {
    for (let i = 0; i < 50; i++) {
      if (get(from, `http://${ip}/`) !== undefined) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${ip} does not answer HTTP from ${from}`);
  }

  before(async () => {
    addNs('h1');
    addNs('h2');
    // The underlay: one veth pair between the two hosts.
    must('ip', ['-n', ns('h1'), 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', ns('h2')]);
    for (const h of [h1, h2]) {
      must('ip', ['-n', ns(h.name), 'addr', 'add', `${h.underlay}/24`, 'dev', 'ul0']);
      must('ip', ['-n', ns(h.name), 'link', 'set', 'ul0', 'up']);
      must('ip', ['netns', 'exec', ns(h.name), 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    }
    for (const h of [h1, h2]) {
      for (const net of [NET_A, NET_B]) {
        const spec = {
          networkId: net,
          vni: vni(net),
          localUnderlayIp: h.underlay,
          underlayDevice: 'ul0',
          gateway: gateway(net),
        };
        await h.plumbing.ensureOverlay(
          h === h1 && net === NET_A ? { ...spec, hostAddress: '10.0.1.201/24', routeLocalnet: true } : spec,
        );
      }
    }
    eps.forEach((e, i) => attach(e, i));
    // What the dispatcher's assignments would make every host program: each remote endpoint of
    // each network it has, plus h1's own address on A (the mesh's SNAT source).
    for (const h of [h1, h2]) {
      for (const e of eps)
        if (e.host !== h) await h.plumbing.addRemoteEndpoint(e.net, { ip: e.ip, hostIp: e.host.underlay });
    }
    await h2.plumbing.addRemoteEndpoint(NET_A, { ip: '10.0.1.201', hostIp: h1.underlay });
    for (const n of ['a2', 'a3', 'a4', 'b2']) serve(ep(n));
    for (const n of ['a2', 'a3', 'a4']) await waitServing('a1', ep(n).ip);
  });

  after(() => {
    // SHOALNET_KEEP=1 leaves everything in place for debugging (then remove the namespaces by hand).
    if (process.env.SHOALNET_KEEP) return;
    for (const p of procs) if (p.pid) sh('kill', ['-9', String(p.pid)]);
    for (const n of made.reverse()) sh('ip', ['netns', 'del', n]);
    rmSync(www, { recursive: true, force: true });
    const left = must('ip', ['netns', 'list'])
      .split('\n')
      .filter((l) => l.includes(tag));
    assert.deepEqual(left, [], 'no namespace left behind');
  });

  it('is idempotent: ensuring again changes nothing and lists the same endpoints', async () => {
    const before = await h1.plumbing.listRemoteEndpoints(NET_A);
    await h1.plumbing.ensureOverlay({
      networkId: NET_A,
      vni: 4097,
      localUnderlayIp: h1.underlay,
      underlayDevice: 'ul0',
      gateway: '10.0.1.1/24',
      hostAddress: '10.0.1.201/24',
      routeLocalnet: true,
    });
    assert.deepEqual(await h1.plumbing.listRemoteEndpoints(NET_A), before);
    assert.deepEqual(
      before.map((e) => `${e.ip}@${e.hostIp}`),
      ['10.0.1.12@192.168.250.2', '10.0.1.14@192.168.250.2'],
    );
  });

  it('gives the host link a fixed MAC and the gateway address, and keeps them when ensured again', async () => {
    const show = (): string => must('ip', ['-n', ns('h2'), '-j', 'addr', 'show', hostLinkName(NET_B)]);
    const mac = (): string => /"address":"([0-9a-f:]+)"/.exec(show())![1]!;
    assert.equal(mac(), hostLinkMacFor(NET_B));
    assert.match(show(), /"local":"10\.0\.2\.1","prefixlen":24/);
    assert.match(must('ip', ['-n', ns('h2'), '-d', 'link', 'show', hostLinkName(NET_B)]), /macvlan mode bridge/);
    await h2.plumbing.ensureOverlay({
      networkId: NET_B,
      vni: vni(NET_B),
      localUnderlayIp: h2.underlay,
      underlayDevice: 'ul0',
      gateway: gateway(NET_B),
    });
    assert.equal(mac(), hostLinkMacFor(NET_B));
    assert.equal(ping('b2', '10.0.2.1'), true, 'a container reaches its gateway on the host link');
  });

  it('carries ping and TCP across hosts over VXLAN', () => {
    assert.ok(ping('a1', ep('a2').ip), 'a1 (h1) pings a2 (h2)');
    assert.equal(get('a1', `http://${ep('a2').ip}/`), 'a2');
    assert.equal(get('a1', `http://${ep('a3').ip}/`), 'a3', 'and a local endpoint');
  });

  it('keeps overlays isolated even when an entry points at the other network', async () => {
    // Misroute on purpose: h1's overlay A believes b2's address lives on h2 (and a1 that it is on its
    // link). The frame arrives on h2 with A's VNI, where only A's links may get it; b2 is on B.
    await h1.plumbing.addRemoteEndpoint(NET_A, { ip: ep('b2').ip, hostIp: h2.underlay });
    must('ip', ['-n', ns('a1'), 'route', 'add', `${ep('b2').ip}/32`, 'dev', 'eth0']);
    try {
      assert.equal(ping('a1', ep('b2').ip), false);
      assert.equal(get('a1', `http://${ep('b2').ip}/`), undefined);
      assert.equal(ping('b2', ep('a2').ip), false, 'nor from B to a local A endpoint');
    } finally {
      await h1.plumbing.removeRemoteEndpoint(NET_A, { ip: ep('b2').ip, hostIp: h2.underlay });
      must('ip', ['-n', ns('a1'), 'route', 'del', `${ep('b2').ip}/32`, 'dev', 'eth0']);
    }
  });

  it('spreads VIP connections round-robin over the backends and follows backend changes', async () => {
    const client = new LinuxPlumbing(netnsRunner(`/var/run/netns/${ns('a1')}`));
    const vip = '10.0.1.100';
    await client.applyRuleset(vipRuleset([{ vip, backends: [ep('a2').ip, ep('a3').ip, ep('a4').ip] }]));
    const counts = new Map<string, number>();
    for (let i = 0; i < 9; i++) {
      const who = get('a1', `http://${vip}/`) ?? 'failed';
      counts.set(who, (counts.get(who) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries([...counts].sort()), { a2: 3, a3: 3, a4: 3 });

    await client.applyRuleset(vipRuleset([{ vip, backends: [ep('a4').ip] }]));
    for (let i = 0; i < 3; i++) assert.equal(get('a1', `http://${vip}/`), 'a4');

    await client.applyRuleset(vipRuleset([{ vip, backends: [] }]));
    const t0 = Date.now();
    assert.equal(get('a1', `http://${vip}/`), undefined);
    assert.ok(Date.now() - t0 < 1500, 'a VIP without backends refuses at once');
    assert.deepEqual((await client.listOwned()).tables, ['shoal-vip']);
    await client.removeRuleset('shoal-vip');
    assert.deepEqual((await client.listOwned()).tables, []);
  });

  it('routes a published port from another host and from 127.0.0.1 to tasks on every host', async () => {
    await h1.plumbing.applyRuleset(
      meshRuleset({
        ingressLink: hostLinkName(NET_A),
        nodeIngressIp: '10.0.1.201',
        ports: [
          { protocol: 'tcp', publishedPort: 8080, targetPort: 80, backends: [ep('a2').ip, ep('a3').ip, ep('a4').ip] },
        ],
      }),
    );
    const seen = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const who = get('h2', `http://${h1.underlay}:8080/`) ?? 'failed';
      seen.set(who, (seen.get(who) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries([...seen].sort()), { a2: 2, a3: 2, a4: 2 }, 'from h2 through h1');
    const local = new Set<string>();
    for (let i = 0; i < 3; i++) local.add(get('h1', 'http://127.0.0.1:8080/') ?? 'failed');
    assert.deepEqual([...local].sort(), ['a2', 'a3', 'a4'], 'from h1 itself on 127.0.0.1');
  });

  it('loads the egress table and cleans up everything it made', async () => {
    await h1.plumbing.applyRuleset(
      egressRuleset([
        { link: hostLinkName(NET_A), subnet: '10.0.1.0/24', internal: false, gateway: '10.0.1.1' },
        { link: hostLinkName(NET_B), subnet: '10.0.2.0/24', internal: true, gateway: '10.0.2.1' },
      ]),
    );
    await h1.plumbing.applyRuleset(goneRuleset([{ networkId: NET_A, ips: ['10.0.1.99'] }]));
    const owned = await h1.plumbing.listOwned();
    assert.deepEqual(owned.tables, ['shoal-egress', 'shoal-mesh']);
    assert.deepEqual(owned.netdevTables, ['shoal-gone']);
    assert.equal(owned.links.length, 4);
    for (const h of [h1, h2]) {
      await h.plumbing.cleanup();
      assert.deepEqual(
        await h.plumbing.listOwned(),
        { links: [], tables: [], netdevTables: [], forwardAccepts: [] },
        `${h.name} is clean`,
      );
      await h.plumbing.cleanup();
      await h.plumbing.removeOverlay(NET_A);
    }
    assert.equal(ping('a1', ep('a2').ip), false, 'the overlay is gone');
  });
});
