/**
 * The routing mesh in a real lab (1 manager, 2 workers), seed 000's walk-through through the
 * unmodified docker CLI: a service whose tasks answer with their hostname runs on two of the three
 * hosts; after `service update --publish-add 8080:80`, 12 requests to EACH host's address (the
 * host without a task included, and 127.0.0.1 from that host) rotate over every task; the same over
 * UDP; `service inspect` shows the endpoint as Docker does; removing the services leaves no mesh
 * rule behind on any host.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ok, ROOT, run, waitFor } from '../integration/support.js';
import { httpGet as get, LabClient } from './lab-client.js';

const NAME = `mesh${process.pid % 100000}`;
const L = new LabClient(NAME);
const { lab, on, tryOn } = L;
const HOSTS = ['manager1', 'worker1', 'worker2'];
const IMAGE = 'shoal-test/busybox:1';
const UDP_IMAGE = 'shoal-test/udp-hostname:1';
/** An HTTP server answering with its container's hostname. */
const HTTPD = ['sh', '-c', 'mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 80 -h /www'];
/** Tasks only on manager1 and worker1: worker2 serves through the mesh alone. */
const PLACE = ['--constraint', 'node.hostname!=worker2'];

let addrs: Record<string, string> = {};

/** One HTTP request on a fresh connection (so each one is a new flow for the mesh). */
const httpGet = async (host: string, port: number): Promise<string> => (await get(host, port)).trim();

/** One datagram from a fresh socket (a new source port: a new UDP flow), and its answer. */
function udpAsk(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP answer from ${host}:${port}`));
    }, 2000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m.toString('utf8').trim());
    });
    s.send('hello', port, host);
  });
}

/** Until every host answers one flow (the mesh follows the tasks within about a second). */
async function answering(what: string, ask: (host: string) => Promise<string>): Promise<number> {
  const start = Date.now();
  for (;;) {
    const answers = await Promise.all(
      HOSTS.map((h) =>
        ask(addrs[h]!).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (answers.every(Boolean)) return Date.now() - start;
    if (Date.now() - start > 30_000)
      throw new Error(`timed out waiting for ${what}: ${HOSTS.filter((_, i) => !answers[i]).join(', ')} silent`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Hostnames answered by `n` consecutive flows, counted. */
async function rotation(ask: () => Promise<string>, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = await ask();
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  return seen;
}

/** The container hostnames (short IDs) of a service's running tasks, across the lab. */
function taskHostnames(service: string): string[] {
  const out: string[] = [];
  for (const h of HOSTS) {
    const ids = on(h, [
      'docker',
      'ps',
      '--filter',
      `label=com.docker.swarm.service.name=${service}`,
      '--format',
      '{{.ID}}',
    ]).trim();
    if (ids) out.push(...ids.split('\n'));
  }
  return out.sort();
}

function runningCount(service: string): number {
  return on('manager1', [
    'docker',
    'service',
    'ps',
    service,
    '--filter',
    'desired-state=running',
    '--format',
    '{{.CurrentState}}',
  ])
    .split('\n')
    .filter((l) => l.startsWith('Running')).length;
}

/** `docker service create -d --name NAME OPTIONS... IMAGE_AND_COMMAND...` on manager1. */
const createService = (name: string, options: string[], imageAndCommand: string[]): string =>
  on('manager1', ['docker', 'service', 'create', '-d', '--name', name, ...options, ...imageAndCommand]);

/** What the mesh leaves on a host: its table (and the host-mode one), DOCKER-USER accepts, overlay links. */
function meshLeftovers(host: string): string {
  const tables = tryOn(host, ['nft', 'list', 'tables'])
    .stdout.split('\n')
    .filter((l) => l.includes('shoal-mesh') || l.includes('shoal-hostports'));
  const rules = tryOn(host, ['iptables', '-w', '-S', 'DOCKER-USER'])
    .stdout.split('\n')
    .filter((l) => l.includes('shl-'));
  const links = tryOn(host, ['ip', '-br', 'link'])
    .stdout.split('\n')
    .filter((l) => /^sh[lv]-/.test(l));
  return [...tables, ...rules, ...links].join('\n');
}

/** Builds the static UDP responder and imports it as an image on every lab host's engine. */
function buildUdpImage(): boolean {
  if (run('gcc', ['--version']).code !== 0) return false;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shoal-udp-'));
  try {
    const bin = path.join(dir, 'udp-hostname');
    ok('gcc', ['-static', '-O2', '-o', bin, path.join(ROOT, 'test/system/fixtures/udp-hostname.c')]);
    const tar = path.join(dir, 'rootfs.tar');
    ok('tar', ['-C', dir, '-cf', tar, 'udp-hostname']);
    for (const h of HOSTS) {
      ok('docker', ['import', '--change', 'CMD ["/udp-hostname","9000"]', tar, UDP_IMAGE], {
        DOCKER_HOST: `unix:///run/shoal-lab/${NAME}/${h}/docker.sock`,
      });
    }
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the routing mesh in a 3-host lab', { timeout: 900_000 }, () => {
  before(() => {
    assert.match(lab(['up', '--managers', '1', '--workers', '2']), new RegExp(`lab ${NAME} is up: 3 hosts`));
    addrs = Object.fromEntries(
      HOSTS.map((h) => [h, on(h, ['sh', '-c', "ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1"]).trim()]),
    );
  });
  after(() => {
    L.down();
  });

  it('publishes 8080 on every host, each request going round-robin to every task (seed 000)', async () => {
    createService('web', ['--replicas', '3', ...PLACE], [IMAGE, ...HTTPD]);
    await waitFor('3 running web tasks', () => runningCount('web') === 3, 120_000, 500);
    on('manager1', ['docker', 'service', 'update', '--publish-add', '8080:80', 'web'], 300_000);
    await waitFor('3 running web tasks', () => runningCount('web') === 3, 120_000, 500);
    const tasks = taskHostnames('web');
    assert.equal(tasks.length, 3);
    await answering('the mesh answering on every host', (a) => httpGet(a, 8080));
    for (const h of HOSTS) {
      const seen = await rotation(() => httpGet(addrs[h]!, 8080), 12);
      assert.deepEqual([...seen.keys()].sort(), tasks, `${h} (${addrs[h]}) reaches every task`);
      assert.deepEqual([...seen.values()], [4, 4, 4], `${h}: round-robin`);
    }
    // From the host itself, on 127.0.0.1, where no task runs.
    const local = on('worker2', ['sh', '-c', 'for i in 1 2 3 4 5 6; do wget -qO- -T 3 http://127.0.0.1:8080/; done'])
      .trim()
      .split('\n');
    assert.deepEqual([...new Set(local)].sort(), tasks, 'worker2 via 127.0.0.1');

    const endpoint = JSON.parse(
      on('manager1', ['docker', 'service', 'inspect', '--format', '{{json .Endpoint}}', 'web']),
    ) as {
      Spec: { Mode: string; Ports: unknown[] };
      Ports: { Protocol: string; TargetPort: number; PublishedPort: number; PublishMode: string }[];
      VirtualIPs: { NetworkID: string; Addr: string }[];
    };
    const ingress = on('manager1', ['docker', 'network', 'inspect', '--format', '{{.Id}}', 'ingress']).trim();
    const port = { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' };
    assert.deepEqual(endpoint.Spec, { Mode: 'vip', Ports: [port] });
    assert.deepEqual(endpoint.Ports, [port]);
    assert.equal(endpoint.VirtualIPs.length, 1);
    assert.equal(endpoint.VirtualIPs[0]!.NetworkID, ingress);
    assert.match(endpoint.VirtualIPs[0]!.Addr, /^10\.0\.0\.\d+\/24$/);
  });

  it('routes UDP flows the same way', async (t) => {
    if (!buildUdpImage()) return t.skip('gcc is not installed (the UDP responder is built with gcc -static)');
    createService(
      'echo',
      ['--replicas', '3', ...PLACE, '--publish', 'published=9000,target=9000,protocol=udp'],
      [UDP_IMAGE],
    );
    await waitFor('3 running echo tasks', () => runningCount('echo') === 3, 120_000, 500);
    const tasks = taskHostnames('echo');
    await answering('UDP answers on every host', (a) => udpAsk(a, 9000));
    for (const h of HOSTS) {
      const seen = await rotation(() => udpAsk(addrs[h]!, 9000), 12);
      assert.deepEqual([...seen.keys()].sort(), tasks, `${h} (${addrs[h]}) reaches every task over UDP`);
      assert.deepEqual([...seen.values()], [4, 4, 4], `${h}: round-robin`);
    }
  });

  it('publishes a host-mode port only on the host of its task, straight to it, for a task on an overlay', async () => {
    on('manager1', ['docker', 'network', 'create', '-d', 'overlay', 'hostnet']);
    createService(
      'hostweb',
      [
        '--network',
        'hostnet',
        '--constraint',
        'node.hostname==worker1',
        '--publish',
        'mode=host,published=8081,target=80',
      ],
      [IMAGE, ...HTTPD],
    );
    await waitFor('a running hostweb task', () => runningCount('hostweb') === 1, 120_000, 500);
    const [name] = taskHostnames('hostweb');
    const answer = await waitFor(
      'worker1:8081 answering',
      () => httpGet(addrs.worker1!, 8081).catch(() => undefined),
      60_000,
      300,
    );
    assert.equal(answer, name, 'from another machine to the task host');
    const self = tryOn('worker1', ['timeout', '5', 'busybox', 'wget', '-qO-', `http://${addrs.worker1}:8081/`]);
    assert.equal(self.stdout.trim(), name, `from the task host itself: ${self.stderr}`);
    await assert.rejects(httpGet(addrs.worker2!, 8081), 'a host without the task does not listen');
    on('manager1', ['docker', 'service', 'rm', 'hostweb']);
    await waitFor(
      'hostnet removed',
      () => tryOn('manager1', ['docker', 'network', 'rm', 'hostnet']).code === 0,
      60_000,
      500,
    );
  });

  it('leaves no mesh rule, accept or ingress device behind once the services are gone', async () => {
    tryOn('manager1', ['docker', 'service', 'rm', 'web', 'echo']);
    await waitFor(
      'no mesh leftovers on any host',
      () => HOSTS.every((h) => meshLeftovers(h) === ''),
      60_000,
      500,
      () => HOSTS.map((h) => `--- ${h}\n${meshLeftovers(h)}`).join('\n'),
    );
  });
});
