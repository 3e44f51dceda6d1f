/**
 * Start order (the `DependsOn` extension) on a real engine: a web service that depends on a db being
 * healthy is held Pending, with the reason in `GET /tasks` and `service ps`, until db's healthcheck
 * passes; its container starts only after db's task is running. A dependency cycle is refused through
 * the API, and an update from the docker CLI (which drops the field) keeps it.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DOCKER, engine, run, ShoalProcess } from './support.js';

const LISTEN = '127.0.0.1:4404';
const IMAGE = 'shoal-test/busybox:1';

interface ApiTask {
  ID: string;
  DesiredState: string;
  Status: {
    Timestamp: string;
    State: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID: string };
  };
}

describe('DependsOn on a real engine', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;

  const api = (method: string, url: string, body?: unknown): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          socketPath: shoal.socket,
          path: `/v1.41${url}`,
          method,
          headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {},
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  const tasks = async (service: string): Promise<ApiTask[]> => {
    const filters = encodeURIComponent(JSON.stringify({ service: [service] }));
    const r = await api('GET', `/tasks?filters=${filters}`);
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as ApiTask[];
  };
  const spec = (name: string, command: string, extra: Record<string, unknown> = {}, container = {}) => ({
    Name: name,
    TaskTemplate: {
      ContainerSpec: { Image: IMAGE, Command: ['sh', '-c', command], StopGracePeriod: 1e9, ...container },
    },
    Mode: { Replicated: { Replicas: 1 } },
    ...extra,
  });
  const on = (...names: string[]) => names.map((Service) => ({ Service, Condition: 'service_started' }));
  /** Polls an async check every 100 ms (the API is asked, not the CLI), failing with the service's state. */
  const poll = async <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${shoal.explain('web')()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const startedAt = (containerId: string): number =>
    Date.parse(engine(['inspect', '--format', '{{.State.StartedAt}}', containerId]).trim());

  before(async () => {
    shoal = await ShoalProcess.create('it-depends-on');
    await shoal.start();
    shoal.docker(['swarm', 'init', '--listen-addr', LISTEN, '--advertise-addr', '127.0.0.1']);
    shoal.rememberNodeId();
  });
  after(async () => {
    run(DOCKER, ['service', 'rm', 'db', 'web', 'ring-a'], shoal.env());
    await shoal.cleanup();
  });

  it('holds web Pending until db is healthy, then starts it', async () => {
    // Healthy only after about 3 s; the start period keeps the early failed checks from counting.
    const healthcheck = {
      Test: ['CMD-SHELL', 'test -f /tmp/ok'],
      Interval: 300e6,
      Timeout: 1e9,
      Retries: 3,
      StartPeriod: 60e9,
    };
    const db = spec('db', 'sleep 3; touch /tmp/ok; exec sleep 3600', {}, { Healthcheck: healthcheck });
    const created = await api('POST', '/services/create', db);
    assert.equal(created.status, 201, created.body);
    const web = await api(
      'POST',
      '/services/create',
      spec('web', 'exec sleep 3600', { DependsOn: [{ Service: 'db', Condition: 'service_healthy' }] }),
    );
    assert.equal(web.status, 201, web.body);

    // While db's healthcheck has not passed: web's task is Pending and says why.
    const waiting = await poll('web Pending with the waiting reason', async () => {
      const [t] = await tasks('web');
      return t?.Status.Err === 'waiting for db: healthy 0/1' ? t : undefined;
    });
    assert.equal(waiting.Status.State, 'pending');
    assert.equal(waiting.Status.ContainerStatus, undefined);
    const ps = shoal.docker(['service', 'ps', '--no-trunc', '--format', '{{.CurrentState}}|{{.Error}}', 'web']);
    assert.match(ps, /^Pending .*\|"?waiting for db: healthy 0\/1"?$/m);

    // Then both run; web's container started only after db's task was running (its healthcheck passed).
    const [webTask] = await poll('web running', async () => {
      const ts = await tasks('web');
      return ts.some((t) => t.Status.State === 'running') ? ts : undefined;
    });
    const [dbTask] = await tasks('db');
    assert.equal(dbTask?.Status.State, 'running');
    assert.equal((await tasks('web')).length, 1, 'one web task, never restarted');
    const dbRunning = Date.parse(dbTask.Status.Timestamp);
    const dbStarted = startedAt(dbTask.Status.ContainerStatus!.ContainerID);
    const webStarted = startedAt(webTask!.Status.ContainerStatus!.ContainerID);
    assert.ok(dbRunning - dbStarted >= 2500, `db turned running only once healthy (${dbRunning - dbStarted} ms)`);
    assert.ok(webStarted >= dbRunning, `web's container started ${webStarted - dbRunning} ms after db was running`);
    assert.ok(Date.parse(webTask!.Status.Timestamp) >= dbRunning);
  });

  it('refuses a dependency cycle with the cycle named', async () => {
    // Names with a hyphen: `service inspect` also resolves an id prefix, and a two-character base36
    // name like "c2" is the prefix of a random service id about once in 1,300.
    const a = await api('POST', '/services/create', spec('ring-a', 'exec sleep 3600', { DependsOn: on('ring-b') }));
    assert.equal(a.status, 201, a.body);
    const b = await api('POST', '/services/create', spec('ring-b', 'exec sleep 3600', { DependsOn: on('ring-a') }));
    assert.equal(b.status, 400, b.body);
    assert.deepEqual(JSON.parse(b.body), {
      message: 'rpc error: code = InvalidArgument desc = DependsOn: dependency cycle: ring-b -> ring-a -> ring-b',
    });
    const r = shoal.dockerRaw(['service', 'inspect', 'ring-b']);
    assert.notEqual(r.code, 0, `nothing was created: ${r.stdout}`);
  });

  it('an update from the docker CLI (which drops DependsOn) keeps it', async () => {
    const before = (await tasks('web')).map((t) => t.ID);
    shoal.docker(['service', 'update', '-d', '--label-add', 'touched=1', 'web']);
    const r = await api('GET', '/services/web');
    const svc = JSON.parse(r.body) as { Spec: { Labels: Record<string, string>; DependsOn?: unknown } };
    assert.equal(svc.Spec.Labels.touched, '1');
    assert.deepEqual(svc.Spec.DependsOn, [{ Service: 'db', Condition: 'service_healthy' }]);
    await new Promise((res) => setTimeout(res, 1000));
    assert.deepEqual(
      (await tasks('web')).map((t) => t.ID),
      before,
      'a label change restarts nothing',
    );
  });
});
