import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../common/random.js';
import { caDigest, newJoinToken, parseJoinToken } from './join-token.js';
import { createRootCA, issueNodeCertificate, tlsInfoOf } from './root-ca.js';

describe('root CA', () => {
  it('is a self-signed CA for CN=swarm-ca on P-256, valid 20 years, pinned by the join tokens', async () => {
    const now = Date.UTC(2026, 10, 25);
    const ca = await createRootCA(now);
    const cert = new X509Certificate(ca.certPem);
    assert.equal(cert.subject, 'CN=swarm-ca');
    assert.equal(cert.issuer, 'CN=swarm-ca');
    assert.equal(cert.ca, true);
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const years = (Date.parse(cert.validTo) - now) / (365 * 24 * 3600 * 1000);
    assert.ok(years > 19.9 && years < 20.1, `valid ${years} years`);
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const token = newJoinToken(ca.certPem, new SeededRandom(1));
    assert.equal(parseJoinToken(token)?.digest, caDigest(ca.certPem));
    const info = tlsInfoOf(ca.certPem);
    assert.equal(info.TrustRoot, ca.certPem);
    assert.ok(Buffer.from(info.CertIssuerPublicKey, 'base64').length > 60);
    assert.notEqual((await createRootCA(now)).certPem, ca.certPem, 'every cluster gets its own root');
  });
});

describe('node certificates', () => {
  it('are issued by the root CA for the node ID, its role and the cluster, for the given validity', async () => {
    const now = Date.UTC(2026, 10, 25);
    const ca = await createRootCA(now);
    const n = await issueNodeCertificate(ca, {
      nodeId: 'node1',
      role: 'worker',
      clusterId: 'cluster1',
      now,
      validityMs: 90 * 24 * 3600 * 1000,
    });
    const cert = new X509Certificate(n.certPem);
    assert.deepEqual(cert.subject.split('\n').sort(), ['CN=node1', 'O=cluster1', 'OU=swarm-worker']);
    assert.equal(cert.issuer, 'CN=swarm-ca');
    assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey), 'signed by the root CA');
    assert.equal(cert.ca, false);
    assert.equal(Math.round((Date.parse(cert.validTo) - now) / (24 * 3600 * 1000)), 90);
    assert.match(cert.subjectAltName ?? '', /DNS:swarm-worker, DNS:node1/);
    const other = await createRootCA(now);
    assert.ok(!cert.verify(new X509Certificate(other.certPem).publicKey), 'another root does not vouch for it');
  });
});
