/**
 * The seeds' stacks in a real lab (1 manager, 2 workers), from the files as the seeds print them
 * (test/system/fixtures/stacks; images replaced by a second -c file or a local retag):
 * - seed 002's wordpress + mysql, with the unmodified docker CLI and again with `shoal stack deploy`:
 *   mysql runs once, on the manager only; web reaches `mysql` by name over the stack's overlay and
 *   reads its password from /run/secrets/my-pw, seen through the routing mesh on 8080;
 *   `docker service scale wordpress_web=5` converges; `stack rm` leaves nothing.
 * - seed 004's wordpress + db with `shoal stack deploy`: `depends_on` orders the start.
 * - seed 004's update stacks with the docker CLI: a bad image pauses the update (failure_action
 *   pause), and with failure_action rollback the service returns to the previous image.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ok, ROOT, run, waitFor } from '../integration/support.js';

const NAME = `stk${process.pid % 100000}`;
const HOSTS = ['manager1', 'worker1', 'worker2'];
const FIXTURES = path.join(ROOT, 'test/system/fixtures/stacks');
const fixture = (f: string): string => path.join(FIXTURES, f);

const argv = (args: string[]): string[] => [
  path.join(ROOT, 'bin/shoal'),
  'lab',
  args[0]!,
  '--name',
  NAME,
  ...args.slice(1),
];
const lab = (args: string[], timeoutMs = 300_000): string => ok(process.execPath, argv(args), {}, timeoutMs);
const on = (host: string, cmd: string[], timeoutMs?: number): string => lab(['exec', host, '--', ...cmd], timeoutMs);
const shoalOn = (host: string, args: string[], timeoutMs?: number): string =>
  on(host, [process.execPath, path.join(ROOT, 'bin/shoal'), ...args], timeoutMs);

let addrs: Record<string, string> = {};

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout to ${host}:${port}`)));
    req.on('error', reject);
  });
}

/** Running tasks of a service: `node|name`. */
function running(service: string): string[] {
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
    .map((l) => l.split('|').slice(0, 2).join('|'));
}

async function converged(service: string, n: number): Promise<void> {
  await waitFor(`${n} running tasks of ${service}`, () => running(service).length === n, 180_000, 500);
}

/** Nothing of stack NS is left: no object with its label on the manager, no container on any host. */
async function nothingLeft(ns: string): Promise<void> {
  const label = `label=com.docker.stack.namespace=${ns}`;
  for (const kind of ['service', 'network', 'secret', 'config'])
    assert.equal(on('manager1', ['docker', kind, 'ls', '-q', '--filter', label]), '', `${kind}s of ${ns}`);
  await waitFor(
    `every container of ${ns} gone`,
    () => HOSTS.every((h) => on(h, ['docker', 'ps', '-aq', '--filter', label]).trim() === ''),
    120_000,
    500,
  );
}

async function seed002(ns: string): Promise<void> {
  await converged(`${ns}_mysql`, 1);
  await converged(`${ns}_web`, 3);
  // mysql: global, constrained to managers: exactly one task, on manager1.
  assert.deepEqual(
    running(`${ns}_mysql`).map((t) => t.split('|')[0]),
    ['manager1'],
  );
  // Through the mesh on every host: web resolved `mysql` over the overlay and read the secret.
  await waitFor(
    'web answering with the database page and the password on every host',
    async () => {
      for (const h of HOSTS) {
        const page = await httpGet(addrs[h]!, 8080).catch(() => '');
        if (!/^db-on-[0-9a-f]{12}\nmy-wordpress-pw\n$/.test(page)) return false;
      }
      return true;
    },
    120_000,
    1000,
  );
  on('manager1', ['docker', 'service', 'scale', `${ns}_web=5`], 300_000);
  await converged(`${ns}_web`, 5);
  const services = on('manager1', ['docker', 'stack', 'services', ns]).split('\n');
  assert.match(services[0]!, /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS$/);
  assert.match(
    services.find((l) => l.includes(`${ns}_web`))!,
    /replicated\s+5\/5\s+shoal-test\/busybox:1\s+\*:8080->80\/tcp/,
  );
  assert.match(
    services.find((l) => l.includes(`${ns}_mysql`))!,
    /global\s+1\/1\s+shoal-test\/busybox:1/,
  );
  const ps = on('manager1', ['docker', 'stack', 'ps', ns]).split('\n');
  assert.match(ps[0]!, /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/);
  assert.equal(ps.filter((l) => / Running\s+Running /.test(l)).length, 6);
}

describe('stacks in a 3-host lab', { timeout: 1_800_000 }, () => {
  before(() => {
    assert.match(lab(['up', '--managers', '1', '--workers', '2']), new RegExp(`lab ${NAME} is up: 3 hosts`));
    addrs = Object.fromEntries(
      HOSTS.map((h) => [h, on(h, ['sh', '-c', "ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1"]).trim()]),
    );
    on('manager1', ['sh', '-c', 'printf my-wordpress-pw\\\\n | docker secret create my-pw -']);
  });
  after(() => {
    if (existsSync(`/run/shoal-lab/${NAME}/state.json`)) run(process.execPath, argv(['down']), {}, 300_000);
  });

  it("seed 002's wordpress stack with the docker CLI", async () => {
    const args = ['-c', fixture('seed002-wordpress.yml'), '-c', fixture('seed002-override.yml')];
    const out = on('manager1', ['docker', 'stack', 'deploy', ...args, 'wordpress']);
    assert.match(out, /Creating network wordpress_my-network\n/);
    assert.match(out, /Creating service wordpress_web\n/);
    assert.match(out, /Creating service wordpress_mysql\n/);
    await seed002('wordpress');
    assert.match(on('manager1', ['docker', 'stack', 'ls']), /^NAME\s+SERVICES\nwordpress\s+2\n$/);
    const rm = on('manager1', ['docker', 'stack', 'rm', 'wordpress']);
    assert.equal(
      rm,
      'Removing service wordpress_mysql\nRemoving service wordpress_web\nRemoving network wordpress_my-network\n',
    );
    await nothingLeft('wordpress');
  });

  it("seed 002's wordpress stack with shoal stack deploy --detach=false", async () => {
    const args = ['-c', fixture('seed002-wordpress.yml'), '-c', fixture('seed002-override.yml')];
    const out = shoalOn('manager1', ['stack', 'deploy', ...args, '--detach=false', 'wp'], 300_000);
    assert.match(out, /Creating network wp_my-network\n/);
    assert.match(out, /verify: Stack wp converged/);
    await seed002('wp');
    assert.equal(shoalOn('manager1', ['stack', 'ls']), on('manager1', ['docker', 'stack', 'ls']));
    assert.equal(
      shoalOn('manager1', ['stack', 'rm', 'wp']),
      'Removing service wp_mysql\nRemoving service wp_web\nRemoving network wp_my-network\n',
    );
    await nothingLeft('wp');
  });

  it("seed 004's wordpress stack: with shoal, depends_on holds wordpress back until db is healthy", async () => {
    const args = ['-c', fixture('seed004-wordpress.yml'), '-c', fixture('seed004-wordpress-override.yml')];
    const out = shoalOn('manager1', ['stack', 'deploy', ...args, '--resolve-image', 'never', 'wordpress']);
    assert.match(out, /Creating network wordpress_overlay\n/);
    await waitFor(
      'wordpress tasks waiting for db',
      () => /waiting for wordpress_db/.test(on('manager1', ['docker', 'stack', 'ps', '--no-trunc', 'wordpress'])),
      60_000,
      200,
    );
    await converged('wordpress_db', 1);
    await converged('wordpress_wordpress', 3);
    assert.deepEqual(
      running('wordpress_db').map((t) => t.split('|')[0]),
      ['manager1'],
    );
    await waitFor(
      'wordpress answering with what db serves, through the mesh on port 80',
      async () => (await httpGet(addrs.worker2!, 80).catch(() => '')) === 'db-ready\n',
      120_000,
      1000,
    );
    shoalOn('manager1', ['stack', 'rm', 'wordpress']);
    await nothingLeft('wordpress');
  });

  it("seed 004's update stacks: a bad image pauses the update; with failure_action rollback it rolls back", async () => {
    for (const h of HOSTS)
      for (const tag of ['nginx:1.13-alpine', 'nginx:latest']) on(h, ['docker', 'tag', 'shoal-test/httpd:1', tag]);
    on('manager1', ['docker', 'stack', 'deploy', '-c', fixture('seed004-restart.yml'), 'web']);
    await converged('web_web', 7);
    on('manager1', ['docker', 'stack', 'deploy', '-c', fixture('seed004-update.yml'), 'web']);
    await waitFor(
      'the update paused',
      () =>
        on('manager1', ['docker', 'service', 'inspect', '--format', '{{.UpdateStatus.State}}', 'web_web']).trim() ===
        'paused',
      180_000,
      500,
    );
    const ps = on('manager1', ['docker', 'stack', 'ps', '--no-trunc', 'web']);
    assert.match(ps, /nginx:aaaa .*Rejected .*"No such image: nginx:aaaa/);
    // Most replicas still run the old image: the pause stopped the update.
    assert.ok(running('web_web').length >= 3);

    on('manager1', ['docker', 'stack', 'deploy', '-c', fixture('seed004-rollback.yml'), 'web']);
    await waitFor(
      'the update to nginx:latest completed',
      () =>
        on('manager1', ['docker', 'service', 'inspect', '--format', '{{.UpdateStatus.State}}', 'web_web']).trim() ===
        'completed',
      300_000,
      500,
    );
    await converged('web_web', 7);
    // The seed's next step: the same file with the image changed to one that does not exist.
    const broken = `/tmp/${NAME}-rollback-aaaa.yml`;
    writeFileSync(broken, readFileSync(fixture('seed004-rollback.yml'), 'utf8').replace('nginx:latest', 'nginx:aaaa'));
    on('manager1', ['docker', 'stack', 'deploy', '-c', broken, 'web']);
    await waitFor(
      'the failed update rolled back',
      () =>
        on('manager1', ['docker', 'service', 'inspect', '--format', '{{.UpdateStatus.State}}', 'web_web']).trim() ===
        'rollback_completed',
      300_000,
      500,
    );
    assert.equal(
      on('manager1', [
        'docker',
        'service',
        'inspect',
        '--format',
        '{{.Spec.TaskTemplate.ContainerSpec.Image}}',
        'web_web',
      ]).trim(),
      'nginx:latest',
    );
    await converged('web_web', 7);
    rmSync(broken, { force: true });
    on('manager1', ['docker', 'stack', 'rm', 'web']);
    await nothingLeft('web');
  });
});
