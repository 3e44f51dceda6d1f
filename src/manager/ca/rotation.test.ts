import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../common/clock.js';
import { silentLogger } from '../../common/logging.js';
import { SeededRandom } from '../../common/random.js';
import { MemoryProposer } from '../../store/proposer.js';
import { Store } from '../../store/store.js';
import type { NodeId } from '../../common/ids.js';
import type { ClusterObject, NodeObject, TlsInfo } from '../../store/types.js';
import { caDigest, parseJoinToken } from './join-token.js';
import { createRootCA, issueNodeCertificate, rootCAProblem, tlsInfoOf, type RootCA } from './root-ca.js';
import {
  CHECK_IN_GRACE_MS,
  desiredIssuer,
  desiredTrust,
  RootRotationReconciler,
  rotationStep,
  signingCA,
} from './rotation.js';

const now = Date.now();

function cluster(old: RootCA, next?: RootCA, phase: 'trust' | 'issue' = 'trust'): ClusterObject {
  return {
    ID: 'c1',
    Version: { Index: 1 },
    CreatedAt: 0,
    UpdatedAt: 0,
    Spec: {} as ClusterObject['Spec'],
    RootCA: {
      CACert: old.certPem,
      CAKey: old.keyPem,
      ...(next ? { RootRotation: { CACert: next.certPem, CAKey: next.keyPem, Phase: phase } } : {}),
    },
    JoinTokens: { Worker: 'w', Manager: 'm' },
    DefaultAddrPool: [],
    SubnetSize: 24,
    DataPathPort: 4789,
  };
}

function node(id: string, tlsInfo: TlsInfo | undefined, state: 'ready' | 'down' = 'ready'): NodeObject {
  return {
    ID: id as NodeId,
    Version: { Index: 1 },
    CreatedAt: 0,
    UpdatedAt: 0,
    Spec: { Labels: {}, Role: 'worker', Availability: 'active' },
    Description: {} as NodeObject['Description'],
    Status: { State: state, Addr: '10.0.0.1' },
    ...(tlsInfo ? { TLSInfo: tlsInfo } : {}),
  };
}

const reported = (trust: string, issuer: RootCA): TlsInfo => ({ ...tlsInfoOf(issuer.certPem), TrustRoot: trust });

describe('root CA rotation', () => {
  it('trusts both roots first, then issues from the new one, then keeps only the new one with new join tokens', async () => {
    const [old, next] = await Promise.all([createRootCA(now), createRootCA(now)]);
    const random = new SeededRandom(5);
    let c = cluster(old, next);
    const both = desiredTrust(c);
    assert.ok(both.includes(old.certPem.trim()) && both.includes(next.certPem.trim()));
    assert.equal(signingCA(c)?.certPem, old.certPem, 'the old root signs until every node trusts the new one');
    assert.equal(desiredIssuer(c), next.certPem, 'docker shows the new root as the desired issuer at once');

    // One node still trusts only the old root: no step.
    assert.equal(
      rotationStep(c, [node('a', reported(both, old)), node('b', reported(old.certPem, old))], random),
      undefined,
    );
    // A node that is down is not waited for.
    c = rotationStep(c, [node('a', reported(both, old)), node('b', reported(old.certPem, old), 'down')], random)!;
    assert.equal(c.RootCA.RootRotation?.Phase, 'issue');
    assert.equal(signingCA(c)?.certPem, next.certPem);

    assert.equal(
      rotationStep(c, [node('a', reported(both, old))], random),
      undefined,
      'a certificate from the old root holds it back',
    );
    const done = rotationStep(c, [node('a', reported(both, next)), node('b', undefined, 'down')], random)!;
    assert.equal(done.RootCA.RootRotation, undefined);
    assert.equal(done.RootCA.CACert, next.certPem);
    assert.equal(desiredTrust(done), next.certPem);
    for (const t of [done.JoinTokens.Worker, done.JoinTokens.Manager])
      assert.equal(parseJoinToken(t)?.digest, caDigest(next.certPem), 'tokens pin the new root');
    assert.equal(
      rotationStep(done, [node('a', reported(next.certPem, next))], random),
      undefined,
      'nothing more to do',
    );
  });

  it('waits for a node marked down that still checks in with the CA; not once its check-ins stop', async () => {
    const [old, next] = await Promise.all([createRootCA(now), createRootCA(now)]);
    const random = new SeededRandom(6);
    const c = cluster(old, next, 'issue');
    const both = desiredTrust(c);
    const nodes = [node('a', reported(both, next)), node('b', reported(both, old), 'down')];
    assert.equal(
      rotationStep(c, nodes, random, (id) => id === 'b'),
      undefined,
      'b is down but alive: finishing would cut it off',
    );
    assert.equal(
      rotationStep(c, nodes, random, () => false)?.RootCA.RootRotation,
      undefined,
      'b is gone: it must rejoin',
    );
  });

  it('the reconciler finishes a rotation once a checking-in node converges or its check-ins lapse', async () => {
    const [old, next] = await Promise.all([createRootCA(now), createRootCA(now)]);
    const clock = new VirtualClock(now);
    const proposer = new MemoryProposer();
    const store = new Store(proposer, clock);
    proposer.bind((i, a) => store.apply(i, a));
    await store.update((tx) => {
      const c = cluster(old, next, 'issue');
      tx.create('cluster', c);
      tx.create('node', node('a', reported(desiredTrust(c), next)));
      tx.create('node', node('b', reported(desiredTrust(c), old), 'down'));
    });
    const r = new RootRotationReconciler(store, clock, new SeededRandom(7), silentLogger);
    r.checkedIn('b');
    r.run();
    await new Promise((res) => setTimeout(res, 20));
    const rotating = (): boolean => store.view((tx) => tx.all('cluster')[0]!.RootCA.RootRotation !== undefined);
    assert.ok(rotating(), 'held back by b, which checked in');
    clock.advance(CHECK_IN_GRACE_MS);
    await new Promise((res) => setTimeout(res, 20));
    assert.ok(!rotating(), 'b stopped checking in: the rotation finished without it');
    r.stop();
  });

  it('TLS with both roots (both CN=swarm-ca) trusted accepts certificates from either', async () => {
    const [old, next] = await Promise.all([createRootCA(now), createRootCA(now)]);
    const id = { role: 'manager' as const, clusterId: 'c1', now, validityMs: 3600_000 };
    const [a, b] = await Promise.all([
      issueNodeCertificate(old, { ...id, nodeId: 'a' }),
      issueNodeCertificate(next, { ...id, nodeId: 'b' }),
    ]);
    const bundle = old.certPem + next.certPem;
    const server = tls.createServer(
      { key: a.keyPem, cert: a.certPem, ca: bundle, requestCert: true, rejectUnauthorized: false },
      (s) => {
        s.end(s.authorized ? 'ok' : `refused: ${String(s.authorizationError)}`);
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const sock = tls.connect({
        port: (server.address() as AddressInfo).port,
        host: '127.0.0.1',
        key: b.keyPem,
        cert: b.certPem,
        ca: bundle,
        checkServerIdentity: () => undefined,
      });
      await once(sock, 'secureConnect');
      assert.equal(
        sock.authorized,
        true,
        `the client trusts the old root's certificate: ${String(sock.authorizationError)}`,
      );
      let got = '';
      for await (const chunk of sock) got += String(chunk);
      assert.equal(got, 'ok', 'the server trusts the new root certificate');
    } finally {
      server.close();
    }
  });

  it('checks a root CA given by the operator', async () => {
    const [ca, other] = await Promise.all([createRootCA(now), createRootCA(now)]);
    assert.equal(rootCAProblem(ca.certPem, ca.keyPem, now), undefined);
    assert.match(rootCAProblem('nope', ca.keyPem, now)!, /not a valid PEM-encoded X.509 certificate/);
    assert.match(rootCAProblem(ca.certPem, other.keyPem, now)!, /does not match/);
    assert.match(rootCAProblem(ca.certPem, 'nope', now)!, /not a valid PEM-encoded private key/);
    const leaf = await issueNodeCertificate(ca, {
      nodeId: 'n',
      role: 'worker',
      clusterId: 'c',
      now,
      validityMs: 3600_000,
    });
    assert.match(rootCAProblem(leaf.certPem, leaf.keyPem, now)!, /not a CA certificate/);
    assert.match(rootCAProblem(ca.certPem, ca.keyPem, now + 21 * 365 * 24 * 3600_000)!, /expired/);
  });
});
