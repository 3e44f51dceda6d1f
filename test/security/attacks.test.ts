/**
 * Hostile input against a real daemon: each attack is tried over the real cluster port (mutual TLS,
 * with certificates a real join issued) or the real Engine API socket, and the safe outcome is
 * asserted — refused with a clear error, nothing changed, the swarm still converging. The suite
 * ends by printing `N attacks tried, N held`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import type tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ClusterClient } from '../../src/cluster/client.js';
import { requestJoin } from '../../src/cluster/join.js';
import type { NodeTls } from '../../src/cluster/node-tls.js';
import { DOCKER, run, ShoalProcess, waitFor } from '../integration/support.js';
import { scan } from '../../src/common/record.js';
import { AesGcmCipher } from '../../src/raft/cipher.js';

// Not the default cluster port: other daemons may run beside this test.
const PORT = 4421;
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

interface DebugVars {
  raft?: { role: string; term: number; leader: string };
  raftTicks?: [number, number][];
}

/**
 * A bystander process ticking every 100 ms for `ms`: how late its timer fires is what the machine
 * itself (other processes, the flood's client) costs any process, to set the daemon's figure against.
 */
function canary(ms: number): Promise<[number, number][]> {
  const script = `const s=[];let p=performance.now();const t=setInterval(()=>{const n=performance.now();s.push([Date.now(),Math.max(0,n-p-100)]);p=n},100);setTimeout(()=>{clearInterval(t);process.stdout.write(JSON.stringify(s))},${ms})`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout) as [number, number][]),
    );
  });
}

/** Quantiles of tick lateness samples (ms). */
function lagOf(samples: readonly [number, number][]): { count: number; p50: number; p99: number; max: number } {
  const sorted = samples.map(([, l]) => l).sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

/**
 * For `ms`, many connections at once: certificate-less ones opening streams with 2 MiB bodies on the
 * open routes, and a worker's opening hundreds of streams with oversized status reports. Each
 * connection starts over as soon as its streams end (refused, reset or answered).
 */
async function flood(ms: number, worker: NodeTls): Promise<{ streams: number; refused: number }> {
  const deadline = Date.now() + ms;
  const big = Buffer.alloc(2 * 1024 * 1024, 0x20);
  let streams = 0;
  let refused = 0;
  const stream = (session: http2.ClientHttp2Session, p: string): Promise<void> =>
    new Promise((resolve) => {
      if (Date.now() >= deadline) {
        resolve();
        return;
      }
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request({ ':method': 'POST', ':path': p });
      } catch {
        refused++;
        resolve();
        return;
      }
      streams++;
      req.on('response', (h) => {
        if (Number(h[':status']) >= 400) refused++;
      });
      req.on('error', () => refused++);
      req.on('close', () => resolve());
      req.setTimeout(Math.max(1, Math.min(2000, deadline - Date.now())), () => req.close());
      req.resume();
      req.end(big);
    });
  const connection = async (tlsOptions: tls.ConnectionOptions, p: string, perSession: number): Promise<void> => {
    while (Date.now() < deadline) {
      const session = http2.connect(`https://${ADDR}`, tlsOptions);
      session.on('error', () => undefined);
      // A session the port does not take (too many without a certificate) may never connect: it is
      // given up at the deadline, which closes its streams.
      const giveUp = setTimeout(() => session.destroy(), Math.max(1, deadline - Date.now()));
      await Promise.all(Array.from({ length: perSession }, () => stream(session, p)));
      clearTimeout(giveUp);
      session.destroy();
    }
  };
  const asWorker = { key: worker.key, cert: worker.cert, ca: worker.ca, checkServerIdentity: () => undefined };
  await Promise.all([
    ...Array.from({ length: 12 }, (_, i) =>
      connection({ rejectUnauthorized: false }, i % 2 ? '/ca/join' : '/ca/root', 8),
    ),
    ...Array.from({ length: 4 }, () => connection(asWorker, '/dispatcher/status', 150)),
  ]);
  return { streams, refused };
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

  attack('a flood of sessions, streams and oversized bodies leaves the Raft tick on time', async () => {
    const vars = async (): Promise<DebugVars> =>
      JSON.parse((await api(shoal.socket, 'GET', '/debug/vars')).body) as DebugVars;
    const before = await vars();
    assert.equal(before.raft?.role, 'leader');
    const t0 = Date.now();
    const [sent, bystander] = await Promise.all([flood(10_000, worker), canary(10_000)]);
    const t1 = Date.now();
    const machine = lagOf(bystander);
    const after = await vars();
    const during = lagOf((after.raftTicks ?? []).filter(([at]) => at >= t0 && at <= t1));
    const quiet = lagOf((before.raftTicks ?? []).filter(([at]) => at >= t0 - 10_000));
    console.log(
      `# raft tick lag during a ${t1 - t0} ms flood (${sent.streams} streams, ${sent.refused} refused): ` +
        `p50 ${during.p50} ms, p99 ${during.p99} ms, max ${during.max} ms over ${during.count} ticks ` +
        `(before it: p50 ${quiet.p50} ms, p99 ${quiet.p99} ms, max ${quiet.max} ms; ` +
        `a bystander process meanwhile: p50 ${machine.p50.toFixed(2)} ms, p99 ${machine.p99.toFixed(2)} ms, max ${machine.max.toFixed(2)} ms)`,
    );
    assert.ok(sent.streams > 1000, `the flood opened ${sent.streams} streams`);
    // The ticker kept running: about one tick per 100 ms period.
    assert.ok(during.count >= ((t1 - t0) / 100) * 0.7, `${during.count} ticks in ${t1 - t0} ms`);
    // The election timeout is 10 ticks (1 s); a follower would start an election after that long.
    // Generous: p99 under half of it, no tick as late as all of it.
    assert.ok(during.p99 < 500, `tick p99 lag ${during.p99} ms`);
    assert.ok(during.max < 1000, `tick max lag ${during.max} ms`);
    // No election: still the leader, in the same term.
    assert.equal(after.raft?.role, 'leader');
    assert.equal(after.raft?.term, before.raft?.term);
    await stillConverges('after-flood');
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

  attack(
    'turning autolock on replaces the Raft data key; a restart needs the unlock key and reads everything',
    async () => {
      const data = path.join(shoal.dir, 'data');
      const dekFile = path.join(data, 'certificates', 'raft-dek.json');
      // An earlier attack turned autolock on and off: its key replacement ends first.
      const before = await waitFor(
        'the DEK in the clear (autolock off)',
        () => {
          const d = JSON.parse(readFileSync(dekFile, 'utf8')) as { key?: string; pending?: unknown };
          return d.key && d.pending === undefined ? d.key : undefined;
        },
        30_000,
      );
      const oldDek = new AesGcmCipher(Buffer.from(before, 'base64'));
      const secret = (name: string): string =>
        run('sh', ['-c', `printf s3cret | ${DOCKER} secret create ${name} -`], shoal.env()).stdout.trim();
      assert.ok(secret('before-lock'));
      shoal.docker(['swarm', 'update', '--autolock=true']);
      const key = shoal.docker(['swarm', 'unlock-key', '-q']).trim();
      try {
        await waitFor(
          'the new DEK promoted',
          () => {
            const d = JSON.parse(readFileSync(dekFile, 'utf8')) as { wrapped?: unknown; pending?: unknown };
            return Boolean(d.wrapped) && d.pending === undefined;
          },
          30_000,
        );
        assert.ok(secret('after-lock'));
        // Not one record of any WAL segment or snapshot opens with the DEK that was on disk in the clear.
        const raftDir = path.join(data, 'raft');
        const files = [
          ...(await readdir(raftDir)).filter((f) => f.endsWith('.snap')).map((f) => path.join(raftDir, f)),
          ...(await readdir(path.join(raftDir, 'wal'))).map((f) => path.join(raftDir, 'wal', f)),
        ];
        let records = 0;
        for (const f of files) {
          const r = scan(await readFile(f));
          assert.ok(r.ok);
          for (const rec of r.records.slice(1)) {
            records++;
            for (const kind of ['wal', 'snapshot', 'snapshot-end'] as const)
              assert.throws(() => oldDek.open(kind, rec), Error, `${f}: a record opens with the old DEK`);
          }
        }
        assert.ok(records > 0 && files.some((f) => f.endsWith('.snap')), `${records} records, ${files.join(', ')}`);
        // A crash and a restart: locked until given the key, then everything is there.
        await shoal.kill9();
        await shoal.start();
        assert.equal(shoal.docker(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'locked');
        const unlock = run('sh', ['-c', `echo ${key} | ${DOCKER} swarm unlock`], shoal.env());
        assert.equal(unlock.code, 0, unlock.stderr);
        const names = await waitFor(
          'the secrets after unlocking',
          () => {
            const r = shoal.dockerRaw(['secret', 'ls', '--format', '{{.Name}}']);
            return r.code === 0 && r.stdout;
          },
          30_000,
        );
        assert.deepEqual(
          names
            .trim()
            .split('\n')
            .filter((n) => n.endsWith('-lock'))
            .sort(),
          ['after-lock', 'before-lock'],
        );
      } finally {
        shoal.dockerRaw(['swarm', 'update', '--autolock=false']);
        shoal.dockerRaw(['secret', 'rm', 'before-lock', 'after-lock']);
      }
    },
  );

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
