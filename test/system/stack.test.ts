/**
 * The seeds' stacks in a real lab (1 manager, 2 workers), from the files as the seeds print them
 * (test/system/fixtures/stacks; images replaced by a second -c file or a local retag), each with
 * the unmodified docker CLI and with `shoal stack deploy`:
 * - seed 002's wordpress + mysql: mysql runs once, on the manager only; web reaches `mysql` by name
 *   over the stack's overlay and reads its password from /run/secrets/my-pw, seen through the
 *   routing mesh on 8080; `docker service scale wordpress_web=5` converges; `stack rm` leaves nothing.
 * - seed 004's wordpress + db: with shoal, `depends_on` holds wordpress back until db is healthy
 *   (asserted from the task and container timestamps); with docker it is ignored.
 * - seed 004's endpoint_mode (vip and dnsrr), max_replicas_per_node, healthcheck and resources stacks.
 * - seed 004's update stacks: a bad image pauses the update (failure_action pause), and with
 *   failure_action rollback the service returns to the previous image.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../src/cli/client.js';
import { ROOT, waitFor } from '../integration/support.js';
import { httpGet, LabClient } from './lab-client.js';

const NAME = `stk${process.pid % 100000}`;
const HOSTS = ['manager1', 'worker1', 'worker2'];
const FIXTURES = path.join(ROOT, 'test/system/fixtures/stacks');
const fixture = (f: string): string => path.join(FIXTURES, f);
const L = new LabClient(NAME);
const { lab, on, tryOn, shoalOn } = L;

let addrs: Record<string, string> = {};

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
  await waitFor(
    `${n} running tasks of ${service}`,
    () => running(service).length === n,
    180_000,
    500,
    () => tryOn('manager1', ['docker', 'service', 'ps', '--no-trunc', service]).stdout,
  );
}

/** Waits until web_web's update reaches a state (`paused`, `completed`, `rollback_completed`). */
async function updateState(state: string, what: string, timeoutMs: number): Promise<void> {
  const current = (): string =>
    on('manager1', ['docker', 'service', 'inspect', '--format', '{{.UpdateStatus.State}}', 'web_web']).trim();
  await waitFor(what, () => current() === state, timeoutMs, 500);
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
    addrs = L.addresses(HOSTS);
    on('manager1', ['sh', '-c', 'printf my-wordpress-pw\\\\n | docker secret create my-pw -']);
  });
  after(() => L.down());

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

  for (const cli of ['shoal', 'docker'] as const) {
    it(`seed 004's wordpress stack with ${cli === 'shoal' ? 'shoal stack deploy: depends_on holds wordpress back until db is healthy' : 'the docker CLI (depends_on ignored, as docker does)'}`, async () => {
      const args = ['-c', fixture('seed004-wordpress.yml'), '-c', fixture('seed004-wordpress-override.yml')];
      const out =
        cli === 'shoal'
          ? shoalOn('manager1', [
              'stack',
              'deploy',
              ...args,
              '-c',
              fixture('seed004-wordpress-order.yml'),
              '--resolve-image',
              'never',
              'wordpress',
            ])
          : on('manager1', ['docker', 'stack', 'deploy', ...args, 'wordpress']);
      assert.match(out, /Creating network wordpress_overlay\n/);
      if (cli === 'shoal') {
        await waitFor(
          'wordpress tasks waiting for db',
          () => /waiting for wordpress_db/.test(on('manager1', ['docker', 'stack', 'ps', '--no-trunc', 'wordpress'])),
          60_000,
          200,
        );
      }
      await converged('wordpress_db', 1);
      await converged('wordpress_wordpress', 3);
      assert.deepEqual(
        running('wordpress_db').map((t) => t.split('|')[0]),
        ['manager1'],
      );
      if (cli === 'shoal') {
        // Every wordpress container (on whichever host) was created after db's task turned Running,
        // which a task with a healthcheck does only once healthy.
        const api = new ApiClient(`unix:///run/shoal-lab/${NAME}/manager1/shoal.sock`);
        const q = (f: Record<string, Record<string, boolean>>): string => encodeURIComponent(JSON.stringify(f));
        const db = await api.get<{ Status: { State: string; Timestamp: string } }[]>(
          `/tasks?filters=${q({ service: { wordpress_db: true }, 'desired-state': { running: true } })}`,
        );
        const healthyAt = Date.parse(db.find((t) => t.Status.State === 'running')!.Status.Timestamp);
        let seen = 0;
        for (const h of HOSTS) {
          const ids = on(h, [
            'docker',
            'ps',
            '-q',
            '--filter',
            'label=com.docker.swarm.service.name=wordpress_wordpress',
          ])
            .trim()
            .split('\n')
            .filter(Boolean);
          for (const id of ids) {
            const created = Date.parse(on(h, ['docker', 'inspect', '--format', '{{.Created}}', id]).trim());
            assert.ok(
              created >= healthyAt,
              `${h}: wordpress container created ${created} before db was healthy ${healthyAt}`,
            );
            seen++;
          }
        }
        assert.equal(seen, 3);
      }
      await waitFor(
        'wordpress answering with what db serves, through the mesh on port 80',
        async () => (await httpGet(addrs.worker2!, 80).catch(() => '')) === 'db-ready\n',
        120_000,
        1000,
      );
      on('manager1', ['docker', 'stack', 'rm', 'wordpress']);
      await nothingLeft('wordpress');
    });
  }

  it("seed 004's endpoint_mode and max_replicas_per_node stacks", async () => {
    shoalOn(
      'manager1',
      [
        'stack',
        'deploy',
        '-c',
        fixture('seed004-endpoint.yml'),
        '-c',
        fixture('seed004-endpoint-override.yml'),
        '--detach=false',
        '--quiet',
        'ep',
      ],
      300_000,
    );
    on('manager1', [
      'docker',
      'stack',
      'deploy',
      '-c',
      fixture('seed004-max-replicas.yml'),
      '-c',
      fixture('seed004-max-replicas-override.yml'),
      'mr',
    ]);
    await converged('ep_wordpress', 2);
    await converged('ep_mysql', 2);
    // vip: one address for the name; dnsrr: one address per task.
    const t = running('ep_wordpress')[0]!.split('|');
    const id = on(t[0]!, ['docker', 'ps', '-q', '--filter', `name=${t[1]}.`])
      .trim()
      .split('\n')[0]!;
    const lookup = (name: string): string[] =>
      on(t[0]!, ['docker', 'exec', id, 'nslookup', name])
        .split('\n')
        .filter((l) => /^Address: 10\./.test(l));
    await waitFor('mysql resolving to its 2 tasks (dnsrr)', () => lookup('mysql').length === 2, 60_000, 500);
    assert.equal(lookup('wordpress').length, 1);
    assert.equal(
      on('manager1', ['docker', 'service', 'inspect', '--format', '{{.Spec.EndpointSpec.Mode}}', 'ep_mysql']).trim(),
      'dnsrr',
    );
    // max_replicas_per_node 1 on 3 nodes: 3 run, 3 wait with the scheduler's reason.
    await converged('mr_worker', 3);
    await waitFor(
      '3 mr_worker tasks pending on the per-node limit',
      () =>
        on('manager1', [
          'docker',
          'service',
          'ps',
          '--no-trunc',
          '--format',
          '{{.CurrentState}}|{{.Error}}',
          'mr_worker',
        ])
          .split('\n')
          .filter((l) => /^Pending.*max replicas per node limit exceed/.test(l)).length === 3,
      60_000,
      500,
    );
    assert.match(on('manager1', ['docker', 'stack', 'services', 'mr']), /replicated\s+3\/6 \(max 1 per node\)/);
    shoalOn('manager1', ['stack', 'rm', 'ep', 'mr']);
    await nothingLeft('ep');
    await nothingLeft('mr');
  });

  it("seed 004's healthcheck and resources stacks", async () => {
    for (const h of HOSTS) on(h, ['docker', 'tag', 'shoal-test/httpd:1', 'nginx:1.13-alpine']);
    on('manager1', ['docker', 'stack', 'deploy', '-c', fixture('seed004-healthcheck.yml'), 'hc']);
    shoalOn('manager1', [
      'stack',
      'deploy',
      '-c',
      fixture('seed004-resources.yml'),
      '-c',
      fixture('seed004-resources-override.yml'),
      'res',
    ]);
    await converged('hc_web', 7);
    // Running means healthy: the agent reports a task with a healthcheck running once it passes.
    const healthy = HOSTS.map(
      (h) =>
        on(h, ['docker', 'ps', '--filter', 'label=com.docker.swarm.service.name=hc_web', '--format', '{{.Status}}'])
          .split('\n')
          .filter((l) => l.includes('(healthy)')).length,
    ).reduce((a, b) => a + b, 0);
    assert.equal(healthy, 7);
    await converged('res_redis', 1);
    const [node, name] = running('res_redis')[0]!.split('|');
    const id = on(node!, ['docker', 'ps', '-q', '--filter', `name=${name}.`]).trim();
    assert.equal(
      on(node!, ['docker', 'inspect', '--format', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}', id]).trim(),
      `${50 * 1024 * 1024} 500000000`,
    );
    assert.equal(
      on('manager1', [
        'docker',
        'service',
        'inspect',
        '--format',
        '{{.Spec.TaskTemplate.Resources.Reservations.MemoryBytes}} {{.Spec.TaskTemplate.Resources.Reservations.NanoCPUs}}',
        'res_redis',
      ]).trim(),
      `${20 * 1024 * 1024} 250000000`,
    );
    on('manager1', ['docker', 'stack', 'rm', 'hc', 'res']);
    await nothingLeft('hc');
    await nothingLeft('res');
  });

  for (const cli of ['docker', 'shoal'] as const) {
    it(`seed 004's update stacks with ${cli}: a bad image pauses the update; with failure_action rollback it rolls back`, async () => {
      const deploy = (file: string): string =>
        cli === 'shoal'
          ? shoalOn('manager1', ['stack', 'deploy', '-c', file, 'web'])
          : on('manager1', ['docker', 'stack', 'deploy', '-c', file, 'web']);
      for (const h of HOSTS)
        for (const tag of ['nginx:1.13-alpine', 'nginx:latest']) on(h, ['docker', 'tag', 'shoal-test/httpd:1', tag]);
      deploy(fixture('seed004-restart.yml'));
      await converged('web_web', 7);
      deploy(fixture('seed004-update.yml'));
      await updateState('paused', 'the update paused', 180_000);
      const ps = on('manager1', ['docker', 'stack', 'ps', '--no-trunc', 'web']);
      assert.match(ps, /nginx:aaaa .*Rejected .*"No such image: nginx:aaaa/);
      // Most replicas still run the old image: the pause stopped the update.
      assert.ok(running('web_web').length >= 3);

      deploy(fixture('seed004-rollback.yml'));
      await updateState('completed', 'the update to nginx:latest completed', 300_000);
      await converged('web_web', 7);
      // The seed's next step: the same file with the image changed to one that does not exist.
      const broken = `/tmp/${NAME}-${cli}-rollback-aaaa.yml`;
      writeFileSync(
        broken,
        readFileSync(fixture('seed004-rollback.yml'), 'utf8').replace('nginx:latest', 'nginx:aaaa'),
      );
      deploy(broken);
      await updateState('rollback_completed', 'the failed update rolled back', 300_000);
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
  }
});
