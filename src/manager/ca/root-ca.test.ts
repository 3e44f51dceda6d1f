import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../common/random.js';
import { caDigest, newJoinToken, parseJoinToken } from './join-token.js';
import { createRootCA, tlsInfoOf } from './root-ca.js';

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
