/**
 * Overlay networking in a real lab (1 manager, 2 workers), through the unmodified docker CLI: two
 * services on one overlay reach each other by name (vip and dnsrr), `tasks.NAME` lists every
 * running task, a service on another overlay can neither resolve nor reach them, DNS follows a
 * scale (the delay is printed), and removing everything leaves nothing behind on any host.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ok, ROOT, run, waitFor } from '../integration/support.js';

const NAME = `ov${process.pid % 100000}`;
const HOSTS = ['manager1', 'worker1', 'worker2'];
const IMAGE = 'shoal-test/busybox:1';
/** An HTTP server answering with its container's hostname. */
const HTTPD = ['sh', '-c', 'mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 80 -h /www'];

const argv = (args: string[]): string[] => [
  path.join(ROOT, 'bin/shoal'),
  'lab',
  args[0]!,
  '--name',
  NAME,
  ...args.slice(1),
];
const lab = (args: string[], timeoutMs = 300_000): string => ok(process.execPath, argv(args), {}, timeoutMs);
const on = (host: string, cmd: string[]): string => lab(['exec', host, '--', ...cmd]);
const tryOn = (host: string, cmd: string[]) => run(process.execPath, argv(['exec', host, '--', ...cmd]), {}, 60_000);

/** Where a service's running tasks are, and one container of it to run commands in. */
function runningTasks(service: string): { node: string; name: string }[] {
  return on('manager1', [
    'docker',
    'service',
    'ps',
    service,
    '--filter',
    'desired-state=running',
    '--format',
    '{{.Node}}|{{.Name}}|{{.CurrentState}}',
  ])
    .trim()
    .split('\n')
    .filter((l) => l.includes('|Running'))
    .map((l) => ({ node: l.split('|')[0]!, name: l.split('|')[1]! }));
}

function containerOf(service: string): { host: string; id: string } {
  const t = runningTasks(service)[0];
  assert.ok(t, `${service} has a running task`);
  const id = on(t.node, ['docker', 'ps', '-q', '--filter', `name=${t.name}.`])
    .trim()
    .split('\n')[0]!;
  return { host: t.node, id };
}

const inside = (c: { host: string; id: string }, script: string) =>
  tryOn(c.host, ['docker', 'exec', c.id, 'sh', '-c', script]);
const addresses = (nslookup: string): string[] =>
  nslookup
    .split('\n')
    .filter((l) => /^Address: 10\./.test(l))
    .map((l) => l.slice('Address: '.length).trim())
    .sort();

async function converged(service: string, replicas: number): Promise<void> {
  await waitFor(
    `${replicas} running tasks of ${service}`,
    () => runningTasks(service).length === replicas,
    120_000,
    500,
  );
}

describe('overlay networks in a 3-host lab', { timeout: 900_000 }, () => {
  before(() => {
    assert.match(lab(['up', '--managers', '1', '--workers', '2']), new RegExp(`lab ${NAME} is up: 3 hosts`));
  });
  after(() => {
    if (existsSync(`/run/shoal-lab/${NAME}/state.json`)) run(process.execPath, argv(['down']), {}, 300_000);
  });

  it('connects two services on one overlay by name (vip and dnsrr) and isolates a third on another overlay', async () => {
    on('manager1', ['docker', 'network', 'create', '-d', 'overlay', 'front']);
    on('manager1', ['docker', 'network', 'create', '-d', 'overlay', 'back']);
    on('manager1', [
      'docker',
      'service',
      'create',
      '-d',
      '--name',
      'web',
      '--network',
      'front',
      '--replicas',
      '3',
      IMAGE,
      ...HTTPD,
    ]);
    on('manager1', [
      'docker',
      'service',
      'create',
      '-d',
      '--name',
      'db',
      '--endpoint-mode',
      'dnsrr',
      '--network',
      'front',
      '--replicas',
      '2',
      IMAGE,
      ...HTTPD,
    ]);
    on('manager1', ['docker', 'service', 'create', '-d', '--name', 'lone', '--network', 'back', IMAGE, ...HTTPD]);
    await converged('web', 3);
    await converged('db', 2);
    await converged('lone', 1);
    const nodesOfWeb = new Set(runningTasks('web').map((t) => t.node));
    assert.ok(nodesOfWeb.size >= 2, 'web spans hosts');

    const web = containerOf('web');
    const db = containerOf('db');
    const vip = on('manager1', [
      'docker',
      'service',
      'inspect',
      '--format',
      '{{(index .Endpoint.VirtualIPs 0).Addr}}',
      'web',
    ])
      .trim()
      .split('/')[0];
    assert.deepEqual(addresses(inside(db, 'nslookup web').stdout), [vip], 'vip service: its VIP');
    assert.equal(addresses(inside(web, 'nslookup tasks.web').stdout).length, 3, 'tasks.web: every running task');
    assert.equal(addresses(inside(web, 'nslookup db').stdout).length, 2, 'dnsrr service: its task addresses');

    // Through the VIP, round-robin over every task on every host.
    const seen = inside(db, 'for i in 1 2 3 4 5 6; do wget -qO- http://web/; done').stdout.trim().split('\n');
    assert.equal(new Set(seen).size, 3, `every web task answers through the VIP (${seen.join(' ')})`);
    const dbSeen = inside(web, 'for i in 1 2 3 4; do wget -qO- http://db/; done').stdout.trim().split('\n');
    assert.equal(new Set(dbSeen).size, 2, 'both db tasks answer by name');

    const lone = containerOf('lone');
    assert.match(inside(lone, 'nslookup web').stdout + inside(lone, 'nslookup web').stderr, /NXDOMAIN/);
    assert.match(inside(lone, 'nslookup tasks.db').stdout + inside(lone, 'nslookup tasks.db').stderr, /NXDOMAIN/);
    const webIps = addresses(inside(web, 'nslookup tasks.web').stdout);
    assert.notEqual(inside(lone, `ping -c 1 -W 1 ${webIps[0]}`).code, 0, 'no route to another overlay');
    assert.notEqual(inside(lone, `ping -c 1 -W 1 ${vip}`).code, 0, 'nor to its VIP');
  });

  it('follows a scale in DNS (the delay is printed)', async () => {
    const web = containerOf('web');
    for (const [replicas, want] of [
      [4, 4],
      [2, 2],
    ] as const) {
      const t0 = Date.now();
      on('manager1', ['docker', 'service', 'scale', '-d', `db=${replicas}`]);
      const scaled = Date.now();
      // The loop runs inside the container, so the figure is not polluted by polling overhead; it
      // still includes the docker exec start-up (an upper bound).
      const r = inside(
        web,
        `n=0; while [ "$(nslookup tasks.db 2>/dev/null | grep -c '^Address: 10\\.')" != ${want} ]; do n=$((n+1)); [ $n -gt 3000 ] && exit 1; done; echo $n`,
      );
      assert.equal(r.code, 0, `tasks.db reached ${want} addresses`);
      const done = Date.now();
      console.log(
        `# DNS: tasks.db showed ${want} addresses ${done - scaled} ms after 'service scale db=${replicas}' returned (${done - t0} ms after it started; ${r.stdout.trim()} lookups)`,
      );
    }
  });

  it('leaves no bridge, VXLAN device, nft table or Docker network behind once services and networks are removed', async () => {
    on('manager1', ['docker', 'service', 'rm', 'web', 'db', 'lone']);
    await waitFor(
      'no task containers',
      () => HOSTS.every((h) => on(h, ['docker', 'ps', '-aq']).trim() === ''),
      120_000,
      500,
    );
    on('manager1', ['docker', 'network', 'rm', 'front', 'back']);
    const leftovers = (h: string): string =>
      on(h, [
        'sh',
        '-c',
        'ip -br link | grep -E "^sh[lv]-" ; nft list tables | grep shoal- ; docker network ls -q --filter label=io.shoal.network.id; true',
      ]).trim();
    await waitFor(
      'every host clean',
      () => HOSTS.every((h) => leftovers(h) === ''),
      60_000,
      500,
      () => HOSTS.map((h) => `${h}: ${leftovers(h)}`).join('\n'),
    );
    assert.doesNotMatch(
      on('manager1', ['docker', 'network', 'ls', '--filter', 'driver=overlay', '--format', '{{.Name}}']),
      /front|back/,
    );
  });
});
