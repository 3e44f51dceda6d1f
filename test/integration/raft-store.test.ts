/**
 * The manager store on Raft in a real daemon: with a short snapshot interval, snapshots and WAL
 * segments are written sealed (no plaintext of the cluster state on disk), and a kill -9 restart
 * restores the store from snapshot plus WAL, adopting the same containers.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { containersOf, ShoalProcess, waitFor } from './support.js';

describe('manager store on Raft, on disk', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;
  before(async () => {
    shoal = await ShoalProcess.create('it-raft');
    await shoal.start();
  });
  after(() => shoal.cleanup());

  it('snapshots sealed state and restores it after kill -9', async () => {
    shoal.shoal(['swarm', 'init', '--snapshot-interval', '10']);
    const nodeId = shoal.rememberNodeId();
    // The node's TLS identity, issued by the cluster's root CA.
    const certs = path.join(shoal.dir, 'data', 'certificates');
    const cert = await waitFor('a node certificate', () => {
      try {
        return new X509Certificate(readFileSync(path.join(certs, 'swarm-node.crt')));
      } catch {
        return undefined;
      }
    });
    const clusterId = shoal.docker(['info', '--format', '{{.Swarm.Cluster.ID}}']).trim();
    assert.deepEqual(cert.subject.split('\n').sort(), [`CN=${nodeId}`, `O=${clusterId}`, 'OU=swarm-manager']);
    assert.ok(cert.verify(new X509Certificate(shoal.docker(['swarm', 'ca'])).publicKey));
    shoal.shoal([
      'service',
      'create',
      '-d',
      '--name',
      'confidential-svc',
      '--replicas',
      '2',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    await waitFor('2/2', () => shoal.docker(['service', 'ls', '--format', '{{.Replicas}}']).includes('2/2'));
    for (const n of [3, 4, 2]) shoal.shoal(['service', 'scale', '-d', `confidential-svc=${n}`]);
    // Settled: the surplus slots' tasks are gone and so are their containers (a container still being
    // created or stopped at the kill would legitimately be stopped after the restart).
    await waitFor(
      '2/2 after scaling, surplus tasks and containers gone',
      () =>
        shoal.docker(['service', 'ls', '--format', '{{.Replicas}}']).trim() === '2/2' &&
        shoal.docker(['service', 'ps', '-q', 'confidential-svc']).trim().split('\n').length === 2 &&
        containersOf('confidential-svc', true).length === 2,
    );
    const raftDir = path.join(shoal.dir, 'data', 'raft');
    const snaps = (await readdir(raftDir)).filter((f) => f.endsWith('.snap'));
    assert.ok(snaps.length >= 1, 'a snapshot was taken');
    const files = [
      ...snaps.map((f) => path.join(raftDir, f)),
      ...(await readdir(path.join(raftDir, 'wal'))).map((f) => path.join(raftDir, 'wal', f)),
    ];
    for (const f of files)
      assert.ok(!(await readFile(f)).includes('confidential-svc'), `${f} holds the service name in plaintext`);

    const before = containersOf('confidential-svc')
      .map((c) => c.id)
      .sort();
    await shoal.kill9();
    await shoal.start();
    assert.match(shoal.docker(['service', 'ls']), /confidential-svc\s+replicated\s+\d\/2/);
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(
      containersOf('confidential-svc')
        .map((c) => c.id)
        .sort(),
      before,
      `the same containers are adopted\n${shoal.explain('confidential-svc')()}`,
    );
    await waitFor('2/2 after restart', () =>
      shoal.docker(['service', 'ls', '--format', '{{.Replicas}}']).includes('2/2'),
    );
  });
});
