/**
 * An external CA through the unmodified docker CLI: a swarm whose root key lives outside it
 * (`swarm init --external-ca protocol=cfssl,url=...,cacert=...`) gets its certificates signed by that
 * CA, and can rotate to a root of its own; a bad external CA is refused and changes nothing.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signedBy } from '../../src/cluster/node-tls.js';
import { createRootCA } from '../../src/manager/ca/root-ca.js';
import { ROOT, ShoalProcess, waitFor } from './support.js';

describe('an external CA through the docker CLI', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;
  let stub: ChildProcess;
  let dir: string;
  let url: string;
  let rootPem: string;
  const requests = (): { path: string; subject: { CN: string; names: { OU: string; O: string }[] } }[] =>
    existsSync(path.join(dir, 'requests.log'))
      ? readFileSync(path.join(dir, 'requests.log'), 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as ReturnType<typeof requests>[number])
      : [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shoal-extca-'));
    const root = await createRootCA(Date.now());
    rootPem = root.certPem;
    writeFileSync(path.join(dir, 'root.crt'), root.certPem);
    writeFileSync(path.join(dir, 'root.key'), root.keyPem);
    stub = spawn(
      process.execPath,
      [
        path.join(ROOT, 'dist/test/integration/cfssl-stub.js'),
        path.join(dir, 'root.crt'),
        path.join(dir, 'root.key'),
        dir,
      ],
      { stdio: 'inherit' },
    );
    await waitFor('the CFSSL stand-in listening', () => existsSync(path.join(dir, 'port')), 30_000);
    url = `https://localhost:${readFileSync(path.join(dir, 'port'), 'utf8')}/api/v1/cfssl/sign`;
    shoal = await ShoalProcess.create('it-extca');
    await shoal.start();
  });
  after(async () => {
    await shoal?.cleanup();
    stub?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an external CA of an unknown protocol or one that does not answer, and stays out of a swarm', () => {
    const r = shoal.dockerRaw(['swarm', 'init', '--external-ca', `protocol=acme,url=${url}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /protocol/i);
    // An external CA that does not answer: a clear error, and still no swarm.
    const down = shoal.dockerRaw([
      'swarm',
      'init',
      '--external-ca',
      `protocol=cfssl,url=https://localhost:1/sign,cacert=${path.join(dir, 'root.crt')}`,
    ]);
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, /external CA https:\/\/localhost:1\/sign: connect ECONNREFUSED/);
    assert.equal(shoal.docker(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'inactive');
  });

  it("inits a swarm whose root key stays with the external CA: the first manager's certificate comes from it", () => {
    shoal.docker(['swarm', 'init', '--external-ca', `protocol=cfssl,url=${url},cacert=${path.join(dir, 'root.crt')}`]);
    const nodeId = shoal.rememberNodeId();
    assert.equal(shoal.docker(['swarm', 'ca']).trim(), rootPem.trim(), 'the swarm trusts the external root');
    const cert = readFileSync(path.join(shoal.dir, 'data', 'certificates', 'swarm-node.crt'), 'utf8');
    assert.ok(signedBy(cert, rootPem), "the node's certificate comes from the external root");
    const seen = requests().find((r) => r.subject.CN === nodeId);
    assert.ok(seen, 'the external CA was asked to sign for this node');
    assert.equal(seen.subject.names[0]?.OU, 'swarm-manager');
    // Its certificate serves the cluster port: a service runs.
    shoal.docker(['service', 'create', '-d', '--name', 'ext', 'shoal-test/busybox:1', 'sleep', '3600']);
  });

  it('rotates from the external root to a root of its own', async () => {
    shoal.docker(['swarm', 'ca', '--rotate', '-q']);
    const now = shoal.docker(['swarm', 'ca']).trim();
    assert.notEqual(now, rootPem.trim());
    await waitFor(
      'the node certificate from the new root',
      () => signedBy(readFileSync(path.join(shoal.dir, 'data', 'certificates', 'swarm-node.crt'), 'utf8'), now),
      30_000,
    );
  });

  it('rotates back to the external root, given without its key: the external CA signs the new certificates', async () => {
    const asked = requests().length;
    shoal.docker([
      'swarm',
      'ca',
      '--rotate',
      '-q',
      '--ca-cert',
      path.join(dir, 'root.crt'),
      '--external-ca',
      `protocol=cfssl,url=${url}`,
    ]);
    assert.equal(shoal.docker(['swarm', 'ca']).trim(), rootPem.trim());
    assert.ok(requests().length > asked, 'the external CA signed again');
    await waitFor(
      'the node certificate from the external root',
      () => signedBy(readFileSync(path.join(shoal.dir, 'data', 'certificates', 'swarm-node.crt'), 'utf8'), rootPem),
      30_000,
    );
    assert.doesNotMatch(shoal.docker(['info', '--format', '{{json .Swarm.Cluster.Spec.CAConfig}}']), /PRIVATE KEY/);
  });

  it("does the same round trip with shoal's own CLI", async () => {
    shoal.shoal(['swarm', 'ca', '--rotate', '-q']);
    assert.notEqual(shoal.docker(['swarm', 'ca']).trim(), rootPem.trim());
    const asked = requests().length;
    const out = shoal.shoal([
      'swarm',
      'ca',
      '--rotate',
      '--ca-cert',
      path.join(dir, 'root.crt'),
      '--external-ca',
      `protocol=cfssl,url=${url}`,
    ]);
    assert.match(out, /rotated TLS certificates: 1\/1 nodes/);
    assert.equal(shoal.docker(['swarm', 'ca']).trim(), rootPem.trim());
    assert.ok(requests().length > asked, 'the external CA signed again');
    shoal.docker(['service', 'rm', 'ext']);
  });
});
