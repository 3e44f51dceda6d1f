/**
 * A stand-in for an external CFSSL signing endpoint (no cfssl binary is installed here): an HTTPS
 * server on localhost that signs the certificate requests it gets with the root it is given, for
 * the identity the request names, and records each request (one JSON line per request). It runs as
 * its own process because the tests drive the docker CLI synchronously.
 *
 *   node cfssl-stub.js ROOT_CERT ROOT_KEY DIR    (writes DIR/port once listening, DIR/requests.log)
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { issueNodeCertificate, signCsr } from '../../src/manager/ca/root-ca.js';

const [certFile, keyFile, dir] = process.argv.slice(2);
if (!certFile || !keyFile || !dir) throw new Error('usage: cfssl-stub ROOT_CERT ROOT_KEY DIR');
const root = { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
// Its own server certificate comes from the same root, for the name localhost.
const own = await issueNodeCertificate(root, {
  nodeId: 'localhost',
  role: 'manager',
  clusterId: 'cfssl',
  now: Date.now(),
  validityMs: 3600_000,
});

interface SignRequest {
  certificate_request?: string;
  subject?: { CN?: string; names?: { OU?: string; O?: string }[] };
}

const server = createServer({ key: own.keyPem, cert: own.certPem }, (req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => {
    void (async () => {
      const r = JSON.parse(body) as SignRequest;
      appendFileSync(path.join(dir, 'requests.log'), `${JSON.stringify({ path: req.url, subject: r.subject })}\n`);
      const name = r.subject?.names?.[0];
      try {
        const certificate = await signCsr(root, r.certificate_request ?? '', {
          nodeId: r.subject?.CN ?? '',
          role: name?.OU === 'swarm-manager' ? 'manager' : 'worker',
          clusterId: name?.O ?? '',
          now: Date.now(),
          validityMs: 24 * 3600_000,
        });
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ success: true, result: { certificate }, errors: [], messages: [] }));
      } catch (e) {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ success: false, result: null, errors: [{ code: 1, message: String(e) }], messages: [] }),
          );
      }
    })();
  });
});
server.listen(0, () => writeFileSync(path.join(dir, 'port'), String((server.address() as AddressInfo).port)));
