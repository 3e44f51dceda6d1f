/**
 * Hostile input against a real daemon: each attack is tried over the real cluster port (mutual TLS,
 * with certificates a real join issued) or the real Engine API socket, and the safe outcome is
 * asserted — refused with a clear error, nothing changed, the swarm still converging. The suite
 * ends by printing `N attacks tried, N held`.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterClient } from '../../src/cluster/client.js';
import { requestJoin } from '../../src/cluster/join.js';
import type { NodeTls } from '../../src/cluster/node-tls.js';
import { ShoalProcess, waitFor } from '../integration/support.js';

const PORT = 23771;
const ADDR = `127.0.0.1:${PORT}`;
const description = {
  Hostname: 'intruder',
  Platform: { Architecture: 'x86_64', OS: 'linux' },
  Resources: { NanoCPUs: 1e9, MemoryBytes: 2 ** 30 },
  Engine: { EngineVersion: '20.10', Plugins: [] },
};

interface Answer {
  status: number;
  body: string;
}

/** A raw request on the Engine API socket (no client library smoothing anything over). */
function api(
  socketPath: string,
  method: string,
  url: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, method, path: url, headers: { 'Content-Type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    // The server may answer (413) and close before a large body is written: not an error here.
    req.on('socket', (sock) => sock.on('error', () => undefined));
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
    req.end(body);
  });
}

/** A call with raw bytes as its body: without a certificate (as a joiner makes it), or with a node's. */
function anonymous(pathName: string, body: string | Buffer, identity?: NodeTls): Promise<Answer & { reset?: string }> {
  return new Promise((resolve) => {
    const tlsOptions = identity
      ? { key: identity.key, cert: identity.cert, ca: identity.ca, checkServerIdentity: () => undefined }
      : { rejectUnauthorized: false };
    const session = http2.connect(`https://${ADDR}`, tlsOptions);
    session.on('error', () => undefined);
    const req = session.request({ ':method': 'POST', ':path': pathName });
    let status = 0;
    let text = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('close', () => {
      session.close();
      resolve({ status, body: text, reset: req.rstCode ? String(req.rstCode) : undefined });
    });
    req.on('error', () => undefined);
    req.end(body);
  });
}

describe('hostile input', { timeout: 600_000 }, () => {
  let shoal: ShoalProcess;
  let worker: NodeTls;
  let workerId = '';
  let demoted: NodeTls;
  let tried = 0;
  let held = 0;

  /** Registers one attack: it counts as held when its assertions pass. */
  const attack = (name: string, fn: () => Promise<void>): void => {
    it(name, async () => {
      tried++;
      await fn();
      held++;
    });
  };

  /** The swarm still does its job: a service converges (checked after the attacks that could stall it). */
  const stillConverges = async (name: string): Promise<void> => {
    shoal.docker([
      'service',
      'create',
      '--detach',
      '--name',
      name,
      '--replicas',
      '2',
      'shoal-test/busybox:1',
      'sh',
      '-c',
      'trap "exit 0" TERM; while true; do sleep 1; done',
    ]);
    await waitFor(
      `${name} running`,
      () => shoal.docker(['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Replicas}}']).trim() === '2/2',
      60_000,
      500,
      shoal.explain(name),
    );
    shoal.docker(['service', 'rm', name]);
  };

  before(async () => {
    shoal = await ShoalProcess.create('security-node');
    await shoal.start();
    shoal.docker(['swarm', 'init', '--listen-addr', ADDR, '--advertise-addr', '127.0.0.1']);
    shoal.rememberNodeId();
    const workerToken = shoal.docker(['swarm', 'join-token', '-q', 'worker']).trim();
    const managerToken = shoal.docker(['swarm', 'join-token', '-q', 'manager']).trim();
    const w = await requestJoin(ADDR, { token: workerToken, addr: '127.0.0.1:1', availability: 'active', description });
    worker = w.tls;
    workerId = w.nodeId;
    // A manager identity that is then demoted: it keeps its old manager certificate.
    const m = await requestJoin(ADDR, {
      token: managerToken,
      addr: '127.0.0.1:2',
      availability: 'active',
      description: { ...description, Hostname: 'turncoat' },
    });
    demoted = m.tls;
    shoal.docker(['node', 'demote', m.nodeId]);
  });

  after(async () => {
    console.log(`# ${tried} attacks tried, ${held} held`);
    await shoal?.cleanup();
  });

  // ---------- the cluster port ----------

  attack('an oversized body on an open route is refused before it is buffered', async () => {
    const a = await anonymous('/ca/join', Buffer.alloc(2 * 1024 * 1024, 0x20));
    assert.ok(a.status === 400 || a.reset, `refused: ${a.status} ${a.body}`);
    assert.match(a.body || 'reset', /larger than|reset/);
  });

  attack('a certificate-less session cannot open many streams at once', async () => {
    const session = http2.connect(`https://${ADDR}`, { rejectUnauthorized: false });
    session.on('error', () => undefined);
    let refused = 0;
    for (let i = 0; i < 50; i++) {
      // Never ends its body: each stream would stay open.
      const req = session.request({ ':method': 'POST', ':path': '/ca/root' });
      req.on('error', () => refused++);
    }
    await new Promise((r) => setTimeout(r, 2000));
    // Meanwhile the API answers promptly.
    const t0 = Date.now();
    shoal.docker(['node', 'ls']);
    const apiMs = Date.now() - t0;
    session.destroy();
    assert.ok(refused >= 40, `streams beyond the limit are refused (${refused} of 50)`);
    assert.ok(apiMs < 10_000, 'the API stays responsive');
  });

  attack('a status update nested 6,000 levels deep is refused and blocks nobody', async () => {
    const deep = '['.repeat(6000) + ']'.repeat(6000);
    const a = await anonymous('/dispatcher/status', `{"sessionId":"x","updates":[${deep}]}`, worker);
    assert.equal(a.status, 400, a.body);
    assert.match(a.body, /nests deeper than 64 levels/);
    await stillConverges('after-deep');
  });

  attack('a bogus task state is dropped and the task list still answers', async () => {
    const c = new ClusterClient(() => worker);
    // No session of this node exists on the leader: even a well-formed call names none of its own.
    await assert.rejects(
      c.call(ADDR, '/dispatcher/status', {
        sessionId: 'nosuchsession',
        updates: [{ taskId: 'x', status: { State: 'bogus', Timestamp: 0, Message: '' } }],
      }),
      /session not found/,
    );
    c.closeAll();
    const tasks = await api(shoal.socket, 'GET', '/v1.41/tasks');
    assert.equal(tasks.status, 200);
  });

  attack('a node description without resources cannot open a dispatcher session', async () => {
    const c = new ClusterClient(() => worker);
    await assert.rejects(
      c.stream(ADDR, '/dispatcher/session', { description: { Hostname: 'x' }, addr: '6.6.6.6' }, () => undefined),
      /invalid \/dispatcher\/session message/,
    );
    c.closeAll();
  });

  attack("a worker's address is the one its connection comes from, not the one it claims", async () => {
    const c = new ClusterClient(() => worker);
    const ac = new AbortController();
    const streaming = c
      .stream(ADDR, '/dispatcher/session', { description, addr: '6.6.6.6' }, () => undefined, ac.signal)
      .catch(() => undefined);
    await waitFor(
      'the intruding worker ready',
      () =>
        shoal.docker(['node', 'inspect', workerId, '--format', '{{.Status.State}} {{.Status.Addr}}']).trim() ===
        'ready 127.0.0.1',
      20_000,
    );
    ac.abort();
    await streaming;
    c.closeAll();
  });

  attack("a worker's certificate cannot make control calls", async () => {
    const c = new ClusterClient(() => worker);
    await assert.rejects(
      c.call(ADDR, '/control/call', { method: 'getCluster', args: [] }),
      /only available to managers/,
    );
    c.closeAll();
  });

  attack("a demoted manager's old certificate no longer opens manager-only routes", async () => {
    const c = new ClusterClient(() => demoted);
    await assert.rejects(c.call(ADDR, '/control/call', { method: 'listNodes', args: [] }), /is no longer a manager/);
    c.closeAll();
  });

  attack('no private key or unlock key crosses the API', async () => {
    shoal.docker(['swarm', 'update', '--autolock=true']);
    try {
      const swarm = await api(shoal.socket, 'GET', '/v1.41/swarm');
      assert.doesNotMatch(swarm.body, /PRIVATE KEY|SWMKEY/);
    } finally {
      shoal.docker(['swarm', 'update', '--autolock=false']);
    }
  });

  attack('a node can only renew its own certificate, for the role the store gives it', async () => {
    const c = new ClusterClient(() => worker);
    await assert.rejects(
      c.call(ADDR, '/ca/renew-for', { csr: 'x', nodeId: 'someone-else' }),
      /no cluster route|only available to managers/,
    );
    c.closeAll();
  });

  attack('guessing join tokens is slowed down', async () => {
    const real = shoal.docker(['swarm', 'join-token', '-q', 'worker']).trim();
    const wrong = real.replace(/.{5}$/, 'zzzzz');
    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++) {
      outcomes.push(
        await requestJoin(ADDR, { token: wrong, addr: '127.0.0.1:3', availability: 'active', description }).then(
          () => 'joined',
          (e: Error) => e.message,
        ),
      );
    }
    assert.ok(
      outcomes.slice(0, 10).every((m) => /A valid join token is necessary/.test(m)),
      outcomes.join('\n'),
    );
    assert.match(outcomes.at(-1)!, /too many failed join attempts/);
  });

  // ---------- the Engine API socket ----------

  attack("an escaped path cannot reach the engine's own swarm API", async () => {
    const a = await api(shoal.socket, 'GET', '/v1.41/%73ecrets');
    // shoal's own secret list (the engine, not in swarm mode, would answer 503 "not a swarm manager").
    assert.equal(a.status, 200, a.body);
    assert.deepEqual(JSON.parse(a.body), []);
    const b = await api(shoal.socket, 'GET', '/v1.41/containers/../swarm');
    assert.equal(b.status, 200);
    assert.match(b.body, /JoinTokens/, "shoal's own swarm, not the engine's");
  });

  attack('only attach and exec may take over a connection', async () => {
    const a = await api(shoal.socket, 'POST', '/v1.41/swarm/leave', '', {
      Connection: 'Upgrade',
      Upgrade: 'tcp',
    }).catch((e: Error) => ({ status: 0, body: e.message }));
    assert.notEqual(a.status, 101);
    assert.match(shoal.docker(['info', '--format', '{{.Swarm.LocalNodeState}}']), /active/, 'still in the swarm');
  });

  attack('bad bodies get a 400, an oversized one a 413, and nothing is created', async () => {
    const before = shoal.docker(['service', 'ls', '-q']);
    for (const body of [
      'null',
      '{"Name":',
      '[1,2]',
      '{"Mode":{"Replicated":{"Replicas":"lots"}}}',
      '['.repeat(5000) + ']'.repeat(5000),
    ]) {
      const a = await api(shoal.socket, 'POST', '/v1.41/services/create', body);
      assert.equal(a.status, 400, `${body.slice(0, 40)}: ${a.body}`);
      assert.ok(a.body.endsWith('}\n'), 'a JSON error body, framed as Go writes it');
    }
    const big = await api(shoal.socket, 'POST', '/v1.41/services/create', Buffer.alloc(5 * 1024 * 1024, 0x20));
    assert.equal(big.status, 413);
    const escape = await api(shoal.socket, 'GET', '/v1.41/services/%zz');
    assert.equal(escape.status, 400);
    assert.equal(shoal.docker(['service', 'ls', '-q']), before);
  });

  attack('a filter cannot match through prototype keys', async () => {
    const a = await api(
      shoal.socket,
      'GET',
      `/v1.41/nodes?filters=${encodeURIComponent('{"label":{"constructor":true}}')}`,
    );
    assert.equal(a.status, 200);
    assert.deepEqual(JSON.parse(a.body), []);
  });

  attack('a service asking for 10^12 replicas is refused', async () => {
    const a = await api(
      shoal.socket,
      'POST',
      '/v1.41/services/create',
      JSON.stringify({
        Name: 'huge',
        TaskTemplate: { ContainerSpec: { Image: 'shoal-test/busybox:1' } },
        Mode: { Replicated: { Replicas: 1e12 } },
      }),
    );
    assert.equal(a.status, 400, a.body);
    assert.match(a.body, /replicas cannot be more than/);
  });

  attack('cluster specs are checked as swarmkit checks them', async () => {
    const r = shoal.dockerRaw(['swarm', 'update', '--cert-expiry', '1m']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /minimum certificate expiry time is: 1h0m0s/);
  });

  attack('a reader that does not read holds bounded memory in the daemon', async () => {
    const rss = async (): Promise<number> =>
      Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${shoal.proc!.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    shoal.docker([
      'service',
      'create',
      '--detach',
      '--name',
      'chatty',
      'shoal-test/busybox:1',
      'sh',
      '-c',
      `L=$(head -c 1000 /dev/zero | tr '\\0' a); while true; do echo $L; done`,
    ]);
    await waitFor(
      'chatty running',
      () => shoal.docker(['service', 'ls', '--filter', 'name=chatty', '--format', '{{.Replicas}}']).trim() === '1/1',
      60_000,
    );
    const before = await rss();
    // Ask for the logs, read the head and then nothing more: the stream must wait, not pile up.
    const req = http.request({ socketPath: shoal.socket, path: '/v1.41/services/chatty/logs?follow=1&stdout=1' });
    req.on('error', () => undefined);
    req.on('response', (res) => res.pause());
    req.end();
    await new Promise((r) => setTimeout(r, 15_000));
    const grown = (await rss()) - before;
    req.destroy();
    shoal.docker(['service', 'rm', 'chatty']);
    assert.ok(
      grown < 96 * 1024 * 1024,
      `the daemon grew by ${Math.round(grown / 1024 / 1024)} MiB while the reader waited`,
    );
    console.log(`# a paused log reader: the daemon grew by ${Math.round(grown / 1024 / 1024)} MiB in 15 s`);
  });

  attack('the API socket and the data root are closed to other users', async () => {
    assert.equal((await stat(shoal.socket)).mode & 0o777, 0o660);
    assert.equal((await stat(path.join(shoal.dir, 'data'))).mode & 0o777, 0o700);
  });
});
