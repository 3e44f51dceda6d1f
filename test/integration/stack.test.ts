/**
 * Stacks on one shoal manager with real containers: the unmodified docker CLI's `stack deploy|ls|
 * services|ps|rm` and shoal's own `shoal stack` agree line for line; a redeploy touches only what
 * changed; `--prune`, `rollback`, startup order and an invalid file that creates nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../src/cli/client.js';
import { engine, ROOT, run, ShoalProcess, waitFor, type RunResult } from './support.js';

const IMAGE = 'shoal-test/busybox:1';

const STACK = `version: "3.8"
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", "mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 80 -h /www"]
    secrets: [pw]
    configs:
      - source: conf
        target: /etc/app.conf
    networks: [front]
    deploy:
      replicas: 2
      update_config:
        parallelism: 1
        delay: 1s
        monitor: 1s
  worker:
    image: ${IMAGE}
    command: sleep 3600
    stop_grace_period: 1s
    networks: [front]
    deploy:
      restart_policy:
        condition: on-failure
networks:
  front:
    driver: overlay
secrets:
  pw:
    file: ./pw.txt
configs:
  conf:
    file: ./app.conf
`;

describe('stacks on one manager', { timeout: 900_000 }, () => {
  let shoal: ShoalProcess;
  let dir: string;
  const file = (name: string, text: string): string => {
    writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const shoalRaw = (args: string[]): RunResult =>
    run(process.execPath, [path.join(ROOT, 'bin/shoal'), ...args], shoal.env(), 300_000);
  const version = (service: string): number =>
    Number(shoal.docker(['service', 'inspect', '--format', '{{.Version.Index}}', service]).trim());
  const running = (service: string): number =>
    shoal
      .docker(['service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.CurrentState}}'])
      .split('\n')
      .filter((l) => l.startsWith('Running')).length;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shoal-stack-'));
    file('pw.txt', 's3cret\n');
    file('app.conf', 'answer=42\n');
    file('docker-compose.yml', STACK);
    shoal = await ShoalProcess.create('it-stack');
    await shoal.start();
    shoal.docker(['swarm', 'init']);
    shoal.rememberNodeId();
  });
  after(async () => {
    // The daemon's log, for whoever reads a failure.
    writeFileSync(path.join(tmpdir(), 'shoal-stack-test-daemon.log'), shoal.log);
    await shoal.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('docker stack deploy creates the network, secret, config and services, as docker prints it', async () => {
    const out = shoal.docker(['stack', 'deploy', '-c', path.join(dir, 'docker-compose.yml'), 'st']);
    // Docker creates the services in map order (random): compare the lines as a set.
    assert.deepEqual(out.trim().split('\n').sort(), [
      'Creating config st_conf',
      'Creating network st_front',
      'Creating secret st_pw',
      'Creating service st_web',
      'Creating service st_worker',
    ]);
    await waitFor('st_web 2/2 and st_worker 1/1', () => running('st_web') === 2 && running('st_worker') === 1, 120_000);
  });

  it('shoal stack ls|services|ps print what docker stack prints', () => {
    assert.equal(shoal.shoal(['stack', 'ls']), shoal.docker(['stack', 'ls']));
    assert.equal(shoal.shoal(['stack', 'services', 'st']), shoal.docker(['stack', 'services', 'st']));
    const fmt = '{{.Name}}|{{.Image}}|{{.Node}}|{{.DesiredState}}|{{.Error}}';
    assert.equal(
      shoal.shoal(['stack', 'ps', 'st', '--format', fmt]),
      shoal.docker(['stack', 'ps', 'st', '--format', fmt]),
    );
    // Column widths follow the content: "Running less than a second ago" in one call and "Running 1
    // second ago" in the next widen CURRENT STATE differently, so the header is compared by its names.
    const header = (s: string): string => s.split('\n')[0]!.replace(/ {2,}/g, '|');
    assert.equal(header(shoal.shoal(['stack', 'ps', 'st'])), header(shoal.docker(['stack', 'ps', 'st'])));
    assert.match(
      header(shoal.shoal(['stack', 'ps', 'st'])),
      /^ID\|NAME\|IMAGE\|NODE\|DESIRED STATE\|CURRENT STATE\|ERROR\|PORTS$/,
    );
    // Labels as docker's stack deploy sets them.
    const labels = JSON.parse(
      shoal.docker(['service', 'inspect', '--format', '{{json .Spec.Labels}}', 'st_web']),
    ) as Record<string, string>;
    assert.equal(labels['com.docker.stack.namespace'], 'st');
    assert.equal(labels['com.docker.stack.image'], IMAGE);
  });

  it('the tasks see the secret and the config as files', () => {
    const id = engine(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=st_web']).trim().split('\n')[0]!;
    assert.ok(id, 'an st_web container');
    assert.equal(engine(['exec', id, 'cat', '/run/secrets/pw']), 's3cret\n');
    assert.equal(engine(['exec', id, 'cat', '/etc/app.conf']), 'answer=42\n');
  });

  it('a redeploy of the same file touches nothing; a changed service rolls under its update_config', async () => {
    const before = { web: version('st_web'), worker: version('st_worker') };
    const same = shoal.shoal([
      'stack',
      'deploy',
      '-c',
      path.join(dir, 'docker-compose.yml'),
      '--resolve-image',
      'never',
      'st',
    ]);
    assert.doesNotMatch(same, /Updating service|Creating service/);
    assert.deepEqual({ web: version('st_web'), worker: version('st_worker') }, before);

    const override = file('override.yml', 'services:\n  web:\n    image: shoal-test/busybox:2\n');
    const changed = shoal.shoal(
      [
        'stack',
        'deploy',
        '-c',
        path.join(dir, 'docker-compose.yml'),
        '-c',
        override,
        '--resolve-image',
        'never',
        '--detach=false',
        'st',
      ],
      300_000,
    );
    assert.match(changed, /Updating service st_web \(id: [a-z0-9]{25}\)/);
    assert.doesNotMatch(changed, /st_worker \(id/);
    assert.match(changed, /verify: Stack st converged/);
    assert.equal(version('st_worker'), before.worker);
    assert.ok(version('st_web') > before.web);
    // parallelism 1: the two replicas were replaced one after the other.
    const history = shoal
      .docker(['service', 'ps', 'st_web', '--format', '{{.Image}}|{{.DesiredState}}'])
      .trim()
      .split('\n');
    assert.equal(history.filter((l) => l === 'shoal-test/busybox:2|Running').length, 2);
    assert.equal(history.filter((l) => l === `${IMAGE}|Shutdown`).length, 2);
  });

  it('shoal stack rollback returns what the last deploy changed', async () => {
    const worker = version('st_worker');
    const out = shoal.shoal(['stack', 'rollback', '--detach=false', 'st'], 300_000);
    assert.match(out, /Rolling back service st_web/);
    assert.doesNotMatch(out, /st_worker/);
    assert.equal(
      shoal.docker(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'st_web']).trim(),
      IMAGE,
    );
    assert.equal(version('st_worker'), worker);
  });

  it('--prune removes the services the file no longer has', () => {
    const only = file('only-web.yml', STACK.replace(/  worker:\n(    .*\n)+/, ''));
    const out = shoal.shoal(['stack', 'deploy', '-c', only, '--prune', '--resolve-image', 'never', 'st']);
    assert.match(out, /Removing service st_worker/);
    assert.equal(shoal.dockerRaw(['service', 'inspect', 'st_worker']).code, 1);
  });

  it('an invalid file is refused, naming the file and the key, and nothing is created', () => {
    const bad = file('bad.yml', STACK.replace('replicas: 2', 'replicas: two'));
    const r = shoalRaw(['stack', 'deploy', '-c', bad, 'bad']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yml/);
    assert.match(r.stderr, /services\.web\.deploy\.replicas/);
    assert.equal(shoal.docker(['network', 'ls', '--filter', 'label=com.docker.stack.namespace=bad', '-q']), '');
    assert.equal(shoal.docker(['secret', 'ls', '--filter', 'label=com.docker.stack.namespace=bad', '-q']), '');
    assert.equal(shoal.docker(['service', 'ls', '--filter', 'label=com.docker.stack.namespace=bad', '-q']), '');
  });

  it('startup order: web waits until db is healthy; a cycle is refused at deploy', async () => {
    const ordered = file(
      'ordered.yml',
      `services:
  db:
    image: ${IMAGE}
    command: ["sh", "-c", "sleep 4; touch /tmp/ready; exec sleep 3600"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 1s
      retries: 30
  web:
    image: ${IMAGE}
    command: sleep 3600
    stop_grace_period: 1s
    depends_on:
      db:
        condition: service_healthy
`,
    );
    shoal.shoal(['stack', 'deploy', '-c', ordered, '--resolve-image', 'never', 'ord']);
    await waitFor(
      'ord_web waiting for ord_db',
      () => /waiting for ord_db/.test(shoal.docker(['service', 'ps', '--no-trunc', 'ord_web'])),
      60_000,
      200,
    );
    await waitFor('ord_web running', () => running('ord_web') === 1, 120_000);
    // When db's task reported Running (healthy: a task with a healthcheck is Running only once
    // healthy) against when web's container was created.
    const api = new ApiClient(shoal.host);
    const tasks = await api.get<{ Status: { State: string; Timestamp: string } }[]>(
      `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { ord_db: true }, 'desired-state': { running: true } }))}`,
    );
    const dbRunning = Date.parse(tasks.find((t) => t.Status.State === 'running')!.Status.Timestamp);
    const webContainer = engine(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=ord_web']).trim();
    const webCreated = Date.parse(engine(['inspect', '--format', '{{.Created}}', webContainer]).trim());
    assert.ok(webCreated >= dbRunning, `web's container (${webCreated}) came after db was healthy (${dbRunning})`);

    const cycle = file(
      'cycle.yml',
      `services:\n  a:\n    image: ${IMAGE}\n    depends_on: [b]\n  b:\n    image: ${IMAGE}\n    depends_on: [a]\n`,
    );
    const r = shoalRaw(['stack', 'deploy', '-c', cycle, 'cyc']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cycle/);
    assert.equal(shoal.docker(['service', 'ls', '--filter', 'label=com.docker.stack.namespace=cyc', '-q']), '');
    shoal.shoal(['stack', 'rm', 'ord']);
  });

  it('shoal stack rm prints what docker stack rm prints and leaves nothing', async () => {
    const out = shoal.shoal(['stack', 'rm', 'st']);
    assert.equal(
      out,
      'Removing service st_web\nRemoving secret st_pw\nRemoving config st_conf\nRemoving network st_front\n',
    );
    const again = shoalRaw(['stack', 'rm', 'st']);
    assert.equal(again.stderr, 'Nothing found in stack: st\n');
    assert.equal(shoal.docker(['stack', 'ls']), 'NAME      SERVICES\n');
    await waitFor(
      'the stack containers gone',
      () => engine(['ps', '-aq', '--filter', 'label=com.docker.stack.namespace=st']).trim() === '',
      120_000,
    );
  });
});
