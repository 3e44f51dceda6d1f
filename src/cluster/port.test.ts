/**
 * The cluster port over real TLS on loopback: who may reach what is decided by the caller's
 * certificate (issued by the cluster's CA), and the joining path works without one.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../common/logging.js';
import { caDigest, newJoinToken } from '../manager/ca/join-token.js';
import { createRootCA, issueNodeCertificate, type RootCA } from '../manager/ca/root-ca.js';
import { cryptoRandom } from '../common/random.js';
import { ClusterClient } from './client.js';
import { requestJoin } from './join.js';
import type { NodeTls } from './node-tls.js';
import { EmptySchema, JoinCallSchema } from './messages.js';
import { ClusterPort, RAFT_ALPN, type Peer } from './port.js';

const DAY = 24 * 3600 * 1000;

async function identity(ca: RootCA, nodeId: string, role: 'manager' | 'worker', clusterId = 'c1'): Promise<NodeTls> {
  const c = await issueNodeCertificate(ca, { nodeId, role, clusterId, now: Date.now(), validityMs: DAY });
  return { key: c.keyPem, cert: c.certPem, ca: ca.certPem };
}

describe('cluster port', () => {
  let ca: RootCA;
  let port: ClusterPort;
  let addr: string;
  const removed = new Set<string>();
  const raftPeers: Peer[] = [];

  before(async () => {
    ca = await createRootCA(Date.now());
    port = new ClusterPort({
      host: '127.0.0.1',
      port: 0,
      tls: await identity(ca, 'm1', 'manager'),
      logger: silentLogger,
      refuse: (p) => (removed.has(p.nodeId) ? `node ${p.nodeId} was removed` : undefined),
    });
    port.call('/ca/root', 'anyone', EmptySchema, async () => ({ ca: ca.certPem }));
    port.call('/ca/join', 'anyone', JoinCallSchema, async () => ({
      nodeId: 'w9',
      clusterId: 'c1',
      role: 'worker',
      cert: (await identity(ca, 'w9', 'worker')).cert,
      ca: ca.certPem,
      managers: [],
    }));
    port.call('/whoami', 'node', EmptySchema, async (_b, ctx) => ctx.peer);
    port.call('/managers-only', 'manager', EmptySchema, async () => 'ok');
    port.onRaft((socket, peer) => {
      raftPeers.push(peer);
      socket.end();
    });
    await port.listen();
    addr = `127.0.0.1:${port.address().port}`;
  });
  after(() => port.close());

  it("tells a handler the caller's node ID and role from its certificate, and refuses callers without one", async () => {
    const worker = await identity(ca, 'w1', 'worker');
    const w = new ClusterClient(() => worker);
    assert.deepEqual(await w.call(addr, '/whoami', {}), { nodeId: 'w1', role: 'worker', clusterId: 'c1' });
    w.closeAll();
    const anonymous = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const session = http2.connect(`https://${addr}`, { rejectUnauthorized: false });
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ':path': '/whoami' });
      let body = '';
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        session.close();
        resolve({ status, body });
      });
      req.end('{}');
    });
    assert.equal(anonymous.status, 403);
    assert.deepEqual(JSON.parse(anonymous.body), {
      code: 'permission_denied',
      message: 'a node certificate issued by this swarm is required',
    });
  });

  it("refuses a worker's certificate on manager-only routes and on the raft protocol", async () => {
    const worker = await identity(ca, 'w2', 'worker');
    const w = new ClusterClient(() => worker);
    await assert.rejects(
      w.call(addr, '/managers-only', {}),
      (e: Error & { code?: string }) => e.code === 'permission_denied' && /only available to managers/.test(e.message),
    );
    const closed = await new Promise<boolean>((resolve) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: port.address().port,
        key: worker.key,
        cert: worker.cert,
        ca: [ca.certPem],
        ALPNProtocols: [RAFT_ALPN],
        checkServerIdentity: () => undefined,
      });
      s.on('data', () => resolve(false));
      s.on('close', () => resolve(true));
      s.on('error', () => undefined);
    });
    assert.ok(closed);
    assert.ok(!raftPeers.some((p) => p.nodeId === 'w2'), 'the worker never reached raft');
    const manager = await identity(ca, 'm2', 'manager');
    assert.equal(await new ClusterClient(() => manager).call(addr, '/managers-only', {}), 'ok');
    w.closeAll();
  });

  it('refuses a removed node and a certificate from another CA', async () => {
    const gone = await identity(ca, 'w3', 'worker');
    removed.add('w3');
    await assert.rejects(new ClusterClient(() => gone).call(addr, '/whoami', {}), /w3 was removed/);
    const other = await createRootCA(Date.now());
    const stranger = await identity(other, 'x1', 'manager');
    // The stranger does not trust our CA either; even trusting it, its own certificate is not ours.
    await assert.rejects(
      new ClusterClient(() => ({ ...stranger, ca: ca.certPem })).call(addr, '/whoami', {}),
      /certificate/,
    );
  });

  it("joins without a certificate, pinning the CA by the token's digest", async () => {
    const token = newJoinToken(ca.certPem, cryptoRandom);
    const desc = {
      Hostname: 'h',
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 1, MemoryBytes: 1 },
      Engine: { EngineVersion: '1', Plugins: [] },
    };
    const joined = await requestJoin(addr, {
      token,
      addr: '127.0.0.1:2377',
      availability: 'active',
      description: desc as never,
    });
    assert.equal(joined.nodeId, 'w9');
    const otherCa = await createRootCA(Date.now());
    const wrong = newJoinToken(otherCa.certPem, cryptoRandom);
    await assert.rejects(
      requestJoin(addr, { token: wrong, addr: '127.0.0.1:2377', availability: 'active', description: desc as never }),
      new RegExp(`remote CA does not match fingerprint. Expected: ${caDigest(otherCa.certPem)}`),
    );
  });
});
