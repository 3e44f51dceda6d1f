/**
 * Everything that is not swarm goes to the runtime engine through shoal: plain calls, streams,
 * uploads and hijacked connections, driven by the unmodified docker CLI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineClient } from '../../src/common/http-client.js';
import { DOCKER, engine, run, ShoalProcess } from './support.js';

describe('engine proxy', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;
  const name = `shoal-proxy-${process.pid}`;
  const image = `shoal-test/proxy-built:${process.pid}`;

  before(async () => {
    shoal = await ShoalProcess.create('it-proxy');
    await shoal.start();
  });
  after(async () => {
    run(DOCKER, ['rm', '-f', name], { DOCKER_HOST: 'unix:///var/run/docker.sock' });
    run(DOCKER, ['rmi', '-f', image], { DOCKER_HOST: 'unix:///var/run/docker.sock' });
    await shoal.cleanup();
  });

  it('advertises the lower API version and answers /_ping and /version', () => {
    const v = shoal.docker(['version', '--format', '{{.Server.APIVersion}} {{.Client.APIVersion}}']).trim();
    assert.equal(v, '1.41 1.41');
  });

  it('runs containers, exec (hijacked), logs and inspect through the proxy', () => {
    shoal.docker(['run', '-d', '--name', name, 'shoal-test/busybox:1', 'sh', '-c', 'echo started; sleep 300']);
    assert.equal(shoal.docker(['exec', name, 'sh', '-c', 'echo hi-from-exec']).trim(), 'hi-from-exec');
    const piped = spawnSync(DOCKER, ['exec', '-i', name, 'cat'], {
      input: 'stdin-through-shoal\n',
      env: { ...process.env, ...shoal.env() },
      encoding: 'utf8',
    });
    assert.equal(piped.stdout.trim(), 'stdin-through-shoal');
    assert.match(shoal.docker(['logs', name]), /started/);
    assert.equal(shoal.docker(['inspect', '-f', '{{.State.Running}}', name]).trim(), 'true');
  });

  it('streams events until the requested end', () => {
    const since = Math.floor(Date.now() / 1000) - 120;
    const out = shoal.docker([
      'events',
      '--since',
      String(since),
      '--until',
      String(Math.floor(Date.now() / 1000) + 2),
      '--filter',
      `container=${name}`,
    ]);
    assert.match(out, /container start/);
  });

  it('uploads a build context and builds an image', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'shoal-build-'));
    try {
      writeFileSync(path.join(dir, 'Dockerfile'), 'FROM shoal-test/busybox:1\nRUN echo built > /BUILT\n');
      // The classic builder (the docker CLI here has no buildx): the context goes up as a tar upload.
      const r = run(DOCKER, ['build', '-q', '-t', image, dir], { ...shoal.env(), DOCKER_BUILDKIT: '0' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(engine(['run', '--rm', image, 'cat', '/BUILT']).trim(), 'built');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers registry lookups at once without contacting a registry', async () => {
    const t0 = Date.now();
    await assert.rejects(new EngineClient(shoal.host, '/v1.41').json('/distribution/busybox/json'), /registr/);
    assert.ok(Date.now() - t0 < 5000);
  });
});
