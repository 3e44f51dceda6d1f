/**
 * Cluster settings through the unmodified docker CLI: `swarm update` flags change the spec shown by
 * `docker info` and take effect (history retention, Raft snapshots kept), join tokens and the root CA rotate.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRootCA, issueNodeCertificate, tlsInfoOf } from '../../src/manager/ca/root-ca.js';
import { ShoalProcess, waitFor } from './support.js';

describe('swarm settings through the docker CLI', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;
  before(async () => {
    shoal = await ShoalProcess.create('it-settings');
    await shoal.start();
    shoal.docker(['swarm', 'init']);
    shoal.rememberNodeId();
  });
  after(() => shoal.cleanup());

  it('rotates the root CA: the node moves to a certificate from the new root, and the join tokens pin it', () => {
    const before = shoal.docker(['swarm', 'ca']);
    assert.match(before, /^-----BEGIN CERTIFICATE-----/);
    const tokenBefore = shoal.docker(['swarm', 'join-token', '-q', 'worker']).trim();
    // Not detached: the CLI follows the rotation until every node converged.
    const out = shoal.docker(['swarm', 'ca', '--rotate']);
    const after = shoal.docker(['swarm', 'ca']);
    assert.notEqual(after, before);
    assert.ok(out.includes(after.trim()), 'the command prints the new root');
    assert.equal(shoal.docker(['info', '--format', '{{.Swarm.Cluster.RootRotationInProgress}}']).trim(), 'false');
    const tls = JSON.parse(shoal.docker(['node', 'inspect', 'self', '--format', '{{json .Description.TLSInfo}}'])) as {
      TrustRoot: string;
      CertIssuerPublicKey: string;
    };
    assert.equal(tls.TrustRoot.trim(), after.trim(), 'the node trusts only the new root');
    assert.equal(
      tls.CertIssuerPublicKey,
      tlsInfoOf(after).CertIssuerPublicKey,
      "the node's certificate comes from the new root",
    );
    const tokenAfter = shoal.docker(['swarm', 'join-token', '-q', 'worker']).trim();
    assert.notEqual(tokenAfter.split('-')[2], tokenBefore.split('-')[2], 'the token pins the new root');
    assert.equal(shoal.docker(['node', 'ls', '--format', '{{.TLSStatus}}']).trim(), 'Ready');
    assert.equal(shoal.shoal(['node', 'ls', '--format', '{{.TLSStatus}}']).trim(), 'Ready');
    // The node still talks to itself over the cluster port with its new certificate.
    shoal.docker(['service', 'create', '-d', '--name', 'after-rotation', 'shoal-test/busybox:1', 'sleep', '3600']);
    shoal.docker(['service', 'rm', 'after-rotation']);
  });

  it('rotates to a root CA given with its key; refuses one that is not a CA or not its key, changing nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'shoal-ca-'));
    try {
      const [given, other] = await Promise.all([createRootCA(Date.now()), createRootCA(Date.now())]);
      const leaf = await issueNodeCertificate(given, {
        nodeId: 'n',
        role: 'worker',
        clusterId: 'c',
        now: Date.now(),
        validityMs: 3600_000,
      });
      const file = (name: string, pem: string): string => {
        writeFileSync(path.join(dir, name), pem);
        return path.join(dir, name);
      };
      const before = shoal.docker(['swarm', 'ca']);
      const notCa = shoal.dockerRaw([
        'swarm',
        'ca',
        '--rotate',
        '--ca-cert',
        file('leaf.crt', leaf.certPem),
        '--ca-key',
        file('leaf.key', leaf.keyPem),
      ]);
      assert.notEqual(notCa.code, 0);
      assert.match(notCa.stderr, /not a CA certificate/);
      const wrongKey = shoal.dockerRaw([
        'swarm',
        'ca',
        '--rotate',
        '--ca-cert',
        file('ca.crt', given.certPem),
        '--ca-key',
        file('other.key', other.keyPem),
      ]);
      assert.notEqual(wrongKey.code, 0);
      assert.match(wrongKey.stderr, /the signing CA key does not match the signing CA certificate/);
      assert.equal(shoal.docker(['swarm', 'ca']), before, 'nothing changed');
      shoal.docker([
        'swarm',
        'ca',
        '--rotate',
        '-q',
        '--ca-cert',
        path.join(dir, 'ca.crt'),
        '--ca-key',
        file('ca.key', given.keyPem),
      ]);
      assert.equal(shoal.docker(['swarm', 'ca']).trim(), given.certPem.trim());
      const spec = shoal.docker(['info', '--format', '{{json .Swarm.Cluster.Spec.CAConfig}}']);
      assert.doesNotMatch(spec, /PRIVATE KEY|SigningCA/, 'the signing CA is never kept in the spec');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rotates the root CA with shoal's own CLI, showing progress", () => {
    const before = shoal.docker(['swarm', 'ca']);
    const out = shoal.shoal(['swarm', 'ca', '--rotate']);
    assert.match(out, /rotated TLS certificates: 1\/1 nodes, rotated CA certificates: 1\/1 nodes/);
    const after = shoal.docker(['swarm', 'ca']);
    assert.notEqual(after, before);
    assert.ok(out.endsWith(after), 'then the new root');
  });

  it('shows every swarm update setting in docker info', () => {
    shoal.docker([
      'swarm',
      'update',
      '--task-history-limit',
      '2',
      '--dispatcher-heartbeat',
      '2s',
      '--cert-expiry',
      '48h',
      '--snapshot-interval',
      '5',
      '--max-snapshots',
      '1',
    ]);
    const info = shoal.docker(['info']);
    assert.match(info, /Task History Retention Limit: 2\n/);
    assert.match(info, /Heartbeat Period: 2 seconds\n/);
    assert.match(info, /Expiry Duration: 2 days\n/);
    assert.match(info, /Snapshot Interval: 5\n/);
    assert.match(info, /Number of Old Snapshots to Retain: 1\n/);
  });

  it('prunes task history to the new retention limit', async () => {
    shoal.docker(['service', 'create', '-d', '--name', 'crash', '--restart-delay', '200ms', 'shoal-test/fail:1']);
    // The task fails at once and is restarted again and again; only 2 tasks per slot are kept.
    await waitFor(
      'several restarts',
      () => shoal.docker(['service', 'ps', '-q', 'crash']).trim().split('\n').length >= 2,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 3000));
    for (let i = 0; i < 5; i++) {
      const n = shoal.docker(['service', 'ps', '-q', 'crash']).trim().split('\n').length;
      assert.ok(n <= 3, `at most the limit plus the one starting (${n} tasks)`);
      await new Promise((r) => setTimeout(r, 500));
    }
    shoal.docker(['service', 'rm', 'crash']);
  });

  it('keeps the newest snapshot plus max-snapshots old ones', async () => {
    const raft = path.join(shoal.dir, 'data', 'raft');
    const snaps = (): string[] => readdirSync(raft).filter((f) => f.endsWith('.snap'));
    for (let i = 0; i < 6; i++)
      shoal.docker(['service', 'create', '-d', '--name', `s${i}`, 'shoal-test/busybox:1', 'sleep', '3600']);
    await waitFor('two snapshots', () => snaps().length === 2, 60_000);
    for (let i = 0; i < 6; i++) shoal.docker(['service', 'rm', `s${i}`]);
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok(snaps().length <= 2, snaps().join(', '));
  });

  it('rotates join tokens one role at a time', () => {
    const worker = shoal.docker(['swarm', 'join-token', '-q', 'worker']).trim();
    const manager = shoal.docker(['swarm', 'join-token', '-q', 'manager']).trim();
    assert.match(worker, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    assert.notEqual(worker, manager);
    assert.equal(worker.slice(0, 60), manager.slice(0, 60), 'both pin the same root CA');
    const out = shoal.docker(['swarm', 'join-token', '--rotate', 'worker']);
    assert.match(out, /Successfully rotated worker join token\./);
    const rotated = shoal.docker(['swarm', 'join-token', '-q', 'worker']).trim();
    assert.notEqual(rotated, worker);
    assert.equal(shoal.docker(['swarm', 'join-token', '-q', 'manager']).trim(), manager);
  });
});
