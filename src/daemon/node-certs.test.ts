import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createRootCA } from '../manager/ca/root-ca.js';
import { ensureNodeCertificate } from './node-certs.js';

const DAY = 24 * 3600 * 1000;

describe('node certificate on disk', () => {
  it('is issued once, kept while fresh, renewed past half its validity and when the role changes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-certs-'));
    try {
      const now = Date.UTC(2026, 10, 25);
      const ca = await createRootCA(now);
      const id = { nodeId: 'n1', role: 'manager' as const, clusterId: 'c1' };
      assert.equal(await ensureNodeCertificate(dir, ca, id, now, 90 * DAY), true);
      const file = path.join(dir, 'certificates', 'swarm-node.crt');
      const first = await readFile(file, 'utf8');
      assert.match(new X509Certificate(first).subject, /OU=swarm-manager/);
      assert.equal((await stat(path.join(dir, 'certificates', 'swarm-node.key'))).mode & 0o777, 0o600);
      assert.equal(await readFile(path.join(dir, 'certificates', 'swarm-root-ca.crt'), 'utf8'), ca.certPem);
      assert.equal(await ensureNodeCertificate(dir, ca, id, now + 30 * DAY, 90 * DAY), false, 'fresh: kept');
      assert.equal(await ensureNodeCertificate(dir, ca, id, now + 50 * DAY, 90 * DAY), true, 'past half: renewed');
      assert.notEqual(await readFile(file, 'utf8'), first);
      assert.equal(
        await ensureNodeCertificate(dir, ca, { ...id, role: 'worker' }, now + 50 * DAY, 90 * DAY),
        true,
        'demoted: reissued',
      );
      assert.match(new X509Certificate(await readFile(file)).subject, /OU=swarm-worker/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
