/**
 * Secrets end to end through the unmodified docker CLI on one shoal daemon (its own cluster port):
 * seed 002's secret section, Docker's refusals, the rotation recipe, and where the bytes must not
 * be (the shoal data root and Raft files, the container's engine files and writable layer, docker
 * inspect), and that the task's tmpfs goes with the service.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DOCKER, engine, run, ShoalProcess, waitFor } from './support.js';

const LISTEN = '127.0.0.1:23811';

describe('secrets through the docker CLI (one manager)', { timeout: 600_000 }, () => {
  let shoal: ShoalProcess;
  let nodeId = '';
  /** A value found nowhere else, for the leak searches. */
  const probe = `probe-${randomBytes(12).toString('hex')}`;

  const withStdin = (args: string[], input: string): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(DOCKER, args, { env: { ...process.env, ...shoal.env() }, input, encoding: 'utf8' });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const refused = (args: string[], message: string | RegExp, input?: string): void => {
    const r = input === undefined ? shoal.dockerRaw(args) : withStdin(args, input);
    assert.notEqual(r.code, 0, `expected a refusal of ${args.join(' ')}`);
    if (typeof message === 'string') assert.ok(r.stderr.includes(message), `stderr: ${r.stderr}`);
    else assert.match(r.stderr, message);
  };
  const running = (service: string): string[] =>
    shoal
      .docker(['service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.CurrentState}}'])
      .split('\n')
      .filter((l) => l.startsWith('Running'));
  /** Files under `dir` whose bytes contain `needle` (grep -r, binary included). */
  const filesWith = (dir: string, needle: string): string[] => {
    const r = run('grep', ['-rlaF', '--', needle, dir]);
    return r.stdout.split('\n').filter(Boolean);
  };

  before(async () => {
    shoal = await ShoalProcess.create('it-secrets');
    await shoal.start();
    shoal.docker(['swarm', 'init', '--listen-addr', LISTEN, '--advertise-addr', '127.0.0.1']);
    nodeId = shoal.rememberNodeId();
  });
  after(async () => {
    run(DOCKER, ['service', 'rm', 'client', 'leak'], shoal.env());
    await shoal.cleanup();
  });

  it('seed 002: secret create from stdin, ls, inspect without the data', () => {
    const id = withStdin(['secret', 'create', 'my-pw', '-'], 'Aa123456\n');
    assert.equal(id.code, 0, id.stderr);
    assert.match(id.stdout, /^[a-z0-9]{25}\n$/);
    const ls = shoal.docker(['secret', 'ls']);
    assert.match(ls, /^ID\s+NAME\s+DRIVER\s+CREATED\s+UPDATED/);
    assert.match(ls, /my-pw/);
    const inspect = shoal.docker(['secret', 'inspect', 'my-pw']);
    assert.equal((JSON.parse(inspect) as { Spec: { Name: string } }[])[0]!.Spec.Name, 'my-pw');
    assert.ok(
      !inspect.includes('Aa123456') && !inspect.includes(Buffer.from('Aa123456\n').toString('base64')),
      inspect,
    );
    assert.match(shoal.docker(['secret', 'ls', '--filter', 'name=my', '-q']), /^[a-z0-9]{25}\n$/);
  });

  it("bad input is refused with Docker's messages and changes nothing", () => {
    refused(
      ['secret', 'create', 'my-pw', '-'],
      'rpc error: code = AlreadyExists desc = secret my-pw already exists',
      'x',
    );
    refused(['secret', 'create', 'bad-', '-'], 'invalid name, only 64 [a-zA-Z0-9-_.] characters allowed', 'x');
    refused(
      ['secret', 'create', 'big', '-'],
      'secret data must be larger than 0 and less than 512000 bytes',
      'a'.repeat(512_000),
    );
    refused(['secret', 'create', '--driver', 'vault', 'ext'], 'secret drivers are not supported by shoal');
    refused(
      ['service', 'create', '--name', 'bad1', '--secret', 'nope', 'shoal-test/busybox:1', 'sleep', '1'],
      'secret not found: nope',
    );
    refused(
      [
        'service',
        'create',
        '--name',
        'bad2',
        '--secret',
        'source=my-pw,target=../../etc/x',
        'shoal-test/busybox:1',
        'sleep',
        '1',
      ],
      'malformed file secret reference, invalid target file name provided',
    );
    refused(
      [
        'service',
        'create',
        '--name',
        'bad3',
        '--secret',
        'source=my-pw,uid=root',
        'shoal-test/busybox:1',
        'sleep',
        '1',
      ],
      'malformed secret reference: invalid UID "root"',
    );
    refused(
      ['service', 'create', '--name', 'bad4', '--secret', 'source=my-pw,mode=rw', 'shoal-test/busybox:1', 'sleep', '1'],
      /invalid mode specified/,
    );
    assert.deepEqual(shoal.docker(['secret', 'ls', '--format', '{{.Name}}']).split('\n').filter(Boolean), ['my-pw']);
    assert.equal(shoal.docker(['service', 'ls', '-q']).trim(), '');
  });

  it('a data update is refused; a label update is not', async () => {
    const s = JSON.parse(shoal.docker(['secret', 'inspect', 'my-pw'])) as { ID: string; Version: { Index: number } }[];
    const post = (body: unknown): { code: number; stdout: string } => {
      const r = run('curl', [
        '-s',
        '-o',
        '-',
        '-w',
        '\n%{http_code}',
        '--unix-socket',
        shoal.socket,
        '-X',
        'POST',
        '-H',
        'Content-Type: application/json',
        '-d',
        JSON.stringify(body),
        `http://localhost/v1.41/secrets/${s[0]!.ID}/update?version=${s[0]!.Version.Index}`,
      ]);
      const lines = r.stdout.trim().split('\n');
      return { code: Number(lines.at(-1)), stdout: lines.slice(0, -1).join('\n') };
    };
    const data = post({ Name: 'my-pw', Labels: {}, Data: Buffer.from('other').toString('base64') });
    assert.equal(data.code, 400);
    assert.deepEqual(JSON.parse(data.stdout), {
      message: 'rpc error: code = InvalidArgument desc = only updates to Labels are allowed',
    });
    assert.equal(post({ Name: 'my-pw', Labels: { tier: 'db' } }).code, 200);
    assert.match(shoal.docker(['secret', 'inspect', '--format', '{{json .Spec.Labels}}', 'my-pw']), /"tier":"db"/);
  });

  it('seed 002: a service reads /run/secrets/my-pw; the secret cannot be removed while used', async () => {
    shoal.docker([
      'service',
      'create',
      '--detach',
      '--name',
      'client',
      '--secret',
      'my-pw',
      'shoal-test/busybox:1',
      'sh',
      '-c',
      'cat /run/secrets/my-pw; ls -ln /run/secrets; sleep 3600',
    ]);
    await waitFor('client running', () => running('client').length === 1, 120_000, 500, shoal.explain('client'));
    await waitFor(
      'the value in service logs',
      () => shoal.docker(['service', 'logs', '--raw', 'client']).includes('Aa123456'),
      30_000,
      500,
      shoal.explain('client'),
    );
    // Default owner root, mode 0444, as Docker.
    assert.match(shoal.docker(['service', 'logs', '--raw', 'client']), /-r--r--r--\s+1 0\s+0\s+9 .* my-pw/);
    const svc = JSON.parse(shoal.docker(['service', 'inspect', 'client'])) as {
      Spec: { TaskTemplate: { ContainerSpec: { Secrets: { SecretName: string; SecretID: string }[] } } };
    }[];
    const ref = svc[0]!.Spec.TaskTemplate.ContainerSpec.Secrets[0]!;
    assert.equal(ref.SecretName, 'my-pw');
    assert.match(ref.SecretID, /^[a-z0-9]{25}$/);
    refused(
      ['secret', 'rm', 'my-pw'],
      "rpc error: code = InvalidArgument desc = secret 'my-pw' is in use by the following service: client",
    );
  });

  it('the rotation recipe: pw.v2 replaces my-pw under the same target, then my-pw goes; no task fails', async () => {
    assert.equal(withStdin(['secret', 'create', 'pw.v2', '-'], 'Bb654321\n').code, 0);
    shoal.docker([
      'service',
      'update',
      '--detach',
      '--secret-rm',
      'my-pw',
      '--secret-add',
      'source=pw.v2,target=my-pw',
      'client',
    ]);
    await waitFor(
      'the new value in service logs',
      () => shoal.docker(['service', 'logs', '--raw', 'client']).includes('Bb654321'),
      120_000,
      500,
      shoal.explain('client'),
    );
    await waitFor('client running again', () => running('client').length === 1, 60_000, 500, shoal.explain('client'));
    shoal.docker(['secret', 'rm', 'my-pw']);
    const states = shoal.docker(['service', 'ps', 'client', '--format', '{{.CurrentState}} {{.Error}}']);
    assert.ok(!/Failed|Rejected/.test(states), states);
    assert.deepEqual(shoal.docker(['secret', 'ls', '--format', '{{.Name}}']).split('\n').filter(Boolean), ['pw.v2']);
  });

  it("the bytes are nowhere on disk: not in the data root or Raft files, the engine's container files, its writable layer, docker inspect", async () => {
    assert.equal(withStdin(['secret', 'create', 'leak', '-'], probe).code, 0);
    shoal.docker([
      'service',
      'create',
      '--detach',
      '--name',
      'leak',
      '--secret',
      'source=leak,target=/etc/app/leak,uid=1000,gid=1000,mode=0400',
      'shoal-test/busybox:1',
      'sh',
      '-c',
      'ls -ln /etc/app/leak; sleep 3600',
    ]);
    await waitFor('leak running', () => running('leak').length === 1, 120_000, 500, shoal.explain('leak'));
    await waitFor(
      'the file listed',
      () => /-r--------\s+1 1000\s+1000/.test(shoal.docker(['service', 'logs', '--raw', 'leak'])),
      30_000,
      500,
      shoal.explain('leak'),
    );
    const b64 = Buffer.from(probe).toString('base64');
    const dataRoot = path.join(shoal.dir, 'data');
    assert.deepEqual(
      [...filesWith(dataRoot, probe), ...filesWith(dataRoot, b64)],
      [],
      'the shoal data root (Raft WAL and snapshots included)',
    );
    const cid = engine(['ps', '-q', '--no-trunc', '--filter', 'label=com.docker.swarm.service.name=leak']).trim();
    const root = engine(['info', '--format', '{{.DockerRootDir}}']).trim();
    assert.deepEqual(
      [...filesWith(path.join(root, 'containers', cid), probe), ...filesWith(path.join(root, 'containers', cid), b64)],
      [],
      "the engine's container files",
    );
    const upper = engine(['inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', cid]).trim();
    if (upper && upper !== '<no value>') assert.deepEqual(filesWith(upper, probe), [], 'the writable layer');
    const inspect = engine(['inspect', cid]);
    assert.ok(!inspect.includes(probe) && !inspect.includes(b64), 'docker inspect');
    assert.match(inspect, /"Destination": "\/etc\/app\/leak"/);
    assert.ok(engine(['exec', cid, 'cat', '/etc/app/leak']) === probe);
  });

  it('after service rm the task tmpfs is unmounted and gone, and so is the node folder', async () => {
    const dir = `/run/shoal/secrets/${nodeId}`;
    assert.ok(existsSync(dir) && readdirSync(dir).length >= 1);
    shoal.docker(['service', 'rm', 'client', 'leak']);
    await waitFor(
      'the task tmpfs and the node folder gone',
      () => !existsSync(dir),
      60_000,
      500,
      () => (existsSync(dir) ? readdirSync(dir).join(', ') : ''),
    );
    const mounts = run('grep', ['-c', dir, '/proc/self/mountinfo']).stdout.trim();
    assert.equal(mounts, '0');
  });
});
