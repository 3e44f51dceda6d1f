/**
 * Conformance of the Engine API routes shoal serves, in-process (no socket): for each route, the
 * status, the body's shape or Docker's error text. The cluster API runs against a real store on an
 * in-memory proposer; the node API is a stand-in for a manager in a swarm.
 */
import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import { VirtualClock } from '../common/clock.js';
import { ShoalError } from '../common/errors.js';
import type { NodeId } from '../common/ids.js';
import { SeededRandom } from '../common/random.js';
import { noLeaderHooks } from '../manager/controlapi/context.js';
import { localClusterApi } from '../manager/controlapi/methods.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import { firstManagerNode, initialCluster } from '../manager/controlapi/swarm-init.js';
import { MemoryProposer } from '../store/proposer.js';
import { Store } from '../store/store.js';
import type { NodeDescription } from '../store/types.js';
import { createApiApp, type ApiApp } from './app.js';
import { request } from './testing/in-process.js';

const description: NodeDescription = {
  Hostname: 'manager1',
  Platform: { Architecture: 'x86_64', OS: 'linux' },
  Resources: { NanoCPUs: 2e9, MemoryBytes: 2 ** 31 },
  Engine: { EngineVersion: '20.10.24', Labels: {}, Plugins: [] },
};

const nodeApi: NodeApi = {
  swarmInit: () =>
    Promise.reject(
      new ShoalError(
        'unavailable',
        'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.',
      ),
    ),
  swarmJoin: () =>
    Promise.reject(
      new ShoalError(
        'unavailable',
        'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.',
      ),
    ),
  swarmLeave: () => Promise.resolve(),
  swarmUnlock: () => Promise.reject(new ShoalError('conflict', 'swarm is not locked')),
  swarmInfo: async () => ({
    NodeID: 'n1',
    NodeAddr: '10.0.0.1',
    LocalNodeState: 'active',
    ControlAvailable: true,
    Error: '',
    RemoteManagers: [],
  }),
  swarmEvents: () => undefined,
  logs: async function* () {
    yield {
      stream: 1,
      timestamp: '2026-12-01T00:00:00.000000000Z',
      nodeId: 'n1',
      serviceId: 's',
      taskId: 't',
      line: 'hello',
    };
  },
};

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const withSecret = (name: string, ref: Record<string, unknown>): unknown => ({
  Name: name,
  TaskTemplate: { ContainerSpec: { Image: 'busybox:1', Secrets: [ref] } },
  Mode: { Replicated: { Replicas: 1 } },
});

const spec = (name: string, image = 'busybox:1'): unknown => ({
  Name: name,
  TaskTemplate: { ContainerSpec: { Image: image } },
  Mode: { Replicated: { Replicas: 2 } },
});

/** One row of the table: a request and what Docker answers. */
interface Case {
  name: string;
  method: string;
  url: string | (() => string);
  body?: unknown;
  status: number;
  /** Docker's error text, exactly. */
  message?: string | (() => string);
  /** A check on the JSON body. */
  shape?: (body: unknown) => void;
}

describe('Engine API routes, in-process', () => {
  let app: ApiApp;
  let webId = '';
  let webVersion = 0;
  let store: Store | undefined;
  const secretVersion = (): number => store!.view((tx) => tx.all('secret'))[0]!.Version.Index;

  before(async () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const proposer = new MemoryProposer();
    const st = new Store(proposer, clock);
    store = st;
    proposer.bind((i, a) => st.apply(i, a));
    const random = new SeededRandom(1);
    await st.update((tx) => {
      tx.create('cluster', initialCluster({ clusterId: 'c1', req: {}, ca: { certPem: 'CERT' }, now: tx.now, random }));
      tx.create(
        'node',
        firstManagerNode({
          nodeId: 'n1' as NodeId,
          role: 'manager',
          availability: 'active',
          description,
          ip: '10.0.0.1',
          clusterAddr: '10.0.0.1:2377',
          now: tx.now,
        }),
      );
    });
    app = createApiApp({
      node: nodeApi,
      cluster: localClusterApi({ store: st, random, logSource: () => undefined, leader: noLeaderHooks }),
      engine: {
        lines: async function* () {},
        json: async <T>(p: string) =>
          (p === '/version' ? { ApiVersion: '1.41', Version: '20.10.24' } : { Name: 'host' }) as T,
      },
    });
    const created = await request(app, 'POST', '/v1.41/services/create', spec('web'));
    webId = (created.json as { ID: string }).ID;
    webVersion = ((await request(app, 'GET', `/v1.41/services/${webId}`)).json as { Version: { Index: number } })
      .Version.Index;
  });

  const cases: Case[] = [
    { name: 'ping', method: 'GET', url: '/_ping', status: 200 },
    {
      name: 'version adds the shoal component',
      method: 'GET',
      url: '/version',
      status: 200,
      shape: (b) => assert.equal((b as { Components: { Name: string }[] }).Components.at(-1)?.Name, 'shoal'),
    },
    {
      name: 'info carries the swarm section',
      method: 'GET',
      url: '/v1.41/info',
      status: 200,
      shape: (b) => assert.equal((b as { Swarm: { LocalNodeState: string } }).Swarm.LocalNodeState, 'active'),
    },
    {
      name: 'a client too new',
      method: 'GET',
      url: '/v1.99/swarm',
      status: 400,
      message: 'client version 1.99 is too new. Maximum supported API version is 1.41',
    },
    {
      name: 'swarm inspect',
      method: 'GET',
      url: '/v1.41/swarm',
      status: 200,
      shape: (b) => assert.ok((b as { JoinTokens: { Worker: string } }).JoinTokens.Worker.startsWith('SWMTKN-1-')),
    },
    {
      name: 'swarm init in a swarm',
      method: 'POST',
      url: '/v1.41/swarm/init',
      body: {},
      status: 503,
      message:
        'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.',
    },
    {
      name: 'swarm update without version',
      method: 'POST',
      url: '/v1.41/swarm/update',
      body: {},
      status: 400,
      message: `invalid swarm version '': strconv.ParseUint: parsing "": invalid syntax`,
    },
    {
      name: 'swarm unlock when not locked',
      method: 'POST',
      url: '/v1.41/swarm/unlock',
      body: { UnlockKey: 'x' },
      status: 409,
      message: 'swarm is not locked',
    },
    {
      name: 'unlock key while autolock is off',
      method: 'GET',
      url: '/v1.41/swarm/unlockkey',
      status: 200,
      shape: (b) => assert.deepEqual(b, { UnlockKey: '' }),
    },
    {
      name: 'node ls',
      method: 'GET',
      url: '/v1.41/nodes',
      status: 200,
      shape: (b) => assert.equal((b as unknown[]).length, 1),
    },
    {
      name: 'node ls by role',
      method: 'GET',
      url: `/v1.41/nodes?filters=${encodeURIComponent('{"role":{"worker":true}}')}`,
      status: 200,
      shape: (b) => assert.deepEqual(b, []),
    },
    {
      name: 'node ls with an unknown filter',
      method: 'GET',
      url: `/v1.41/nodes?filters=${encodeURIComponent('{"colour":{"red":true}}')}`,
      status: 400,
      message: "invalid filter 'colour'",
    },
    {
      name: 'node inspect by hostname',
      method: 'GET',
      url: '/v1.41/nodes/manager1',
      status: 200,
      shape: (b) => assert.equal((b as { ID: string }).ID, 'n1'),
    },
    {
      name: 'node inspect of a missing node',
      method: 'GET',
      url: '/v1.41/nodes/nope',
      status: 404,
      message: 'node nope not found',
    },
    {
      name: 'demoting the last manager',
      method: 'POST',
      url: '/v1.41/nodes/n1/update?version=1',
      body: { Role: 'worker', Availability: 'active' },
      status: 400,
      message: 'rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm',
    },
    {
      name: 'removing a manager',
      method: 'DELETE',
      url: '/v1.41/nodes/n1',
      status: 400,
      message:
        'rpc error: code = FailedPrecondition desc = node n1 is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal',
    },
    {
      name: 'service ls',
      method: 'GET',
      url: '/v1.41/services',
      status: 200,
      shape: (b) => assert.equal((b as unknown[]).length, 1),
    },
    {
      name: 'service ls with status',
      method: 'GET',
      url: '/v1.41/services?status=true',
      status: 200,
      shape: (b) =>
        assert.deepEqual((b as { ServiceStatus: unknown }[])[0]!.ServiceStatus, {
          RunningTasks: 0,
          DesiredTasks: 2,
          CompletedTasks: 0,
        }),
    },
    {
      name: 'service create with a taken name',
      method: 'POST',
      url: '/v1.41/services/create',
      body: spec('web'),
      status: 409,
      message:
        'rpc error: code = AlreadyExists desc = name conflicts with an existing object: service web already exists',
    },
    {
      name: 'service create with a bad name',
      method: 'POST',
      url: '/v1.41/services/create',
      body: spec('-bad-'),
      status: 400,
      message: 'rpc error: code = InvalidArgument desc = name must be valid as a DNS name component',
    },
    {
      name: 'service inspect of a missing service',
      method: 'GET',
      url: '/v1.41/services/nope',
      status: 404,
      message: 'service nope not found',
    },
    {
      name: 'service update out of sequence',
      method: 'POST',
      url: () => `/v1.41/services/${webId}/update?version=${webVersion + 100}`,
      body: spec('web', 'busybox:2'),
      status: 500,
      message: 'rpc error: code = Unknown desc = update out of sequence',
    },
    {
      name: 'service rollback without a previous spec',
      method: 'POST',
      url: () => `/v1.41/services/${webId}/update?version=${webVersion}&rollback=previous`,
      body: spec('web'),
      status: 400,
      message: () => `rpc error: code = FailedPrecondition desc = service ${webId} does not have a previous spec`,
    },
    {
      name: 'service logs without a stream',
      method: 'GET',
      url: '/v1.41/services/web/logs',
      status: 400,
      message: 'Bad parameters: you must choose at least one stream',
    },
    { name: 'service logs', method: 'GET', url: '/v1.41/services/web/logs?stdout=1', status: 200 },
    { name: 'task ls', method: 'GET', url: '/v1.41/tasks', status: 200, shape: (b) => assert.ok(Array.isArray(b)) },
    {
      name: 'task inspect of a missing task',
      method: 'GET',
      url: '/v1.41/tasks/nope',
      status: 404,
      message: 'task nope not found',
    },
    {
      name: 'secret create',
      method: 'POST',
      url: '/v1.41/secrets/create',
      body: { Name: 'my-pw', Labels: { a: 'b' }, Data: b64('Aa123456\n') },
      status: 201,
    },
    {
      name: 'secret create, duplicate',
      method: 'POST',
      url: '/v1.41/secrets/create',
      body: { Name: 'my-pw', Data: b64('x') },
      status: 409,
      message: 'rpc error: code = AlreadyExists desc = secret my-pw already exists',
    },
    {
      name: 'secret create, bad name',
      method: 'POST',
      url: '/v1.41/secrets/create',
      body: { Name: '-pw', Data: b64('x') },
      status: 400,
      message:
        'rpc error: code = InvalidArgument desc = invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]',
    },
    {
      name: 'secret create, too large',
      method: 'POST',
      url: '/v1.41/secrets/create',
      body: { Name: 'big', Data: Buffer.alloc(500 * 1024, 'a').toString('base64') },
      status: 400,
      message: 'rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes',
    },
    {
      name: 'secret create with a driver',
      method: 'POST',
      url: '/v1.41/secrets/create',
      body: { Name: 'ext', Driver: { Name: 'vault' } },
      status: 400,
      message:
        'rpc error: code = InvalidArgument desc = secret drivers are not supported by shoal (--driver vault): the data must be given at create',
    },
    {
      name: 'secret ls never shows data',
      method: 'GET',
      url: '/v1.41/secrets',
      status: 200,
      shape: (b) =>
        assert.deepEqual(
          (b as { Spec: unknown }[]).map((x) => x.Spec),
          [{ Name: 'my-pw', Labels: { a: 'b' } }],
        ),
    },
    {
      name: 'secret ls by label',
      method: 'GET',
      url: `/v1.41/secrets?filters=${encodeURIComponent('{"label":{"a=c":true}}')}`,
      status: 200,
      shape: (b) => assert.deepEqual(b, []),
    },
    {
      name: 'secret ls by name prefix',
      method: 'GET',
      url: `/v1.41/secrets?filters=${encodeURIComponent('{"name":{"my":true}}')}`,
      status: 200,
      shape: (b) => assert.equal((b as unknown[]).length, 1),
    },
    {
      name: 'secret inspect by name, no data',
      method: 'GET',
      url: '/v1.41/secrets/my-pw',
      status: 200,
      shape: (b) => assert.equal(JSON.stringify(b).includes(b64('Aa123456\n')), false),
    },
    {
      name: 'secret data update',
      method: 'POST',
      url: () => `/v1.41/secrets/my-pw/update?version=${secretVersion()}`,
      body: { Name: 'my-pw', Data: b64('other') },
      status: 400,
      message: 'rpc error: code = InvalidArgument desc = only updates to Labels are allowed',
    },
    {
      name: 'secret label update',
      method: 'POST',
      url: () => `/v1.41/secrets/my-pw/update?version=${secretVersion()}`,
      body: { Name: 'my-pw', Labels: { a: 'c' }, Data: b64('Aa123456\n') },
      status: 200,
    },
    {
      name: 'config create',
      method: 'POST',
      url: '/v1.41/configs/create',
      body: { Name: 'conf', Data: b64('k=v') },
      status: 201,
    },
    {
      name: 'config inspect shows data',
      method: 'GET',
      url: '/v1.41/configs/conf',
      status: 200,
      shape: (b) => assert.equal((b as { Spec: { Data: string } }).Spec.Data, b64('k=v')),
    },
    {
      name: 'a service with an unknown secret',
      method: 'POST',
      url: '/v1.41/services/create',
      body: withSecret('s1', {
        SecretID: 'nope',
        SecretName: 'nope',
        File: { Name: 'nope', UID: '0', GID: '0', Mode: 292 },
      }),
      status: 400,
      message: 'rpc error: code = InvalidArgument desc = secret not found: nope',
    },
    {
      name: 'a secret target outside /run/secrets',
      method: 'POST',
      url: '/v1.41/services/create',
      body: withSecret('s2', { SecretName: 'my-pw', File: { Name: '../etc/passwd', UID: '0', GID: '0', Mode: 292 } }),
      status: 400,
      message:
        'rpc error: code = InvalidArgument desc = malformed file secret reference, invalid target file name provided',
    },
    {
      name: 'a secret with a malformed uid',
      method: 'POST',
      url: '/v1.41/services/create',
      body: withSecret('s3', { SecretName: 'my-pw', File: { Name: 'pw', UID: 'root', GID: '0', Mode: 292 } }),
      status: 400,
      message:
        'rpc error: code = InvalidArgument desc = malformed secret reference: invalid UID "root": must be a number between 0 and 4294967295',
    },
    {
      name: 'a service using the secret',
      method: 'POST',
      url: '/v1.41/services/create',
      body: withSecret('client', { SecretName: 'my-pw' }),
      status: 201,
    },
    {
      name: 'the reference is resolved',
      method: 'GET',
      url: '/v1.41/services/client',
      status: 200,
      shape: (b) =>
        assert.deepEqual(
          (b as { Spec: { TaskTemplate: { ContainerSpec: { Secrets: { File: unknown }[] } } } }).Spec.TaskTemplate
            .ContainerSpec.Secrets[0]!.File,
          { Name: 'my-pw', UID: '0', GID: '0', Mode: 292 },
        ),
    },
    {
      name: 'secret rm while in use',
      method: 'DELETE',
      url: '/v1.41/secrets/my-pw',
      status: 400,
      message: "rpc error: code = InvalidArgument desc = secret 'my-pw' is in use by the following service: client",
    },
    { name: 'service rm of the user', method: 'DELETE', url: '/v1.41/services/client', status: 200 },
    { name: 'secret rm', method: 'DELETE', url: '/v1.41/secrets/my-pw', status: 204 },
    {
      name: 'secret inspect after rm',
      method: 'GET',
      url: '/v1.41/secrets/my-pw',
      status: 404,
      message: 'secret my-pw not found',
    },
    {
      name: 'an unknown swarm path',
      method: 'GET',
      url: '/v1.41/swarm/nothing/here',
      status: 404,
      message: 'page not found',
    },
    {
      name: 'job create',
      method: 'POST',
      url: '/v1.41/services/create',
      body: {
        Name: 'batch',
        TaskTemplate: { ContainerSpec: { Image: 'busybox:1' } },
        Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } },
      },
      status: 201,
    },
    {
      name: 'job ls with status: desired is MaxConcurrent, the first run is JobIteration {} (Go omitempty)',
      method: 'GET',
      url: `/v1.41/services?status=true&filters=${encodeURIComponent('{"name":{"batch":true}}')}`,
      status: 200,
      shape: (b) => {
        const [s] = b as { ServiceStatus: unknown; JobStatus: { JobIteration: unknown; LastExecution: string } }[];
        assert.deepEqual(s!.ServiceStatus, { RunningTasks: 0, DesiredTasks: 2, CompletedTasks: 0 });
        assert.deepEqual(s!.JobStatus.JobIteration, {});
        assert.match(s!.JobStatus.LastExecution, /^2023-11-14T22:13:20/);
      },
    },
    { name: 'job rm', method: 'DELETE', url: '/v1.41/services/batch', status: 200 },
    { name: 'service rm', method: 'DELETE', url: '/v1.41/services/web', status: 200 },
  ];

  for (const c of cases) {
    it(`${c.method} ${typeof c.url === 'string' ? c.url : c.name}: ${c.name}`, async () => {
      const a = await request(app, c.method, typeof c.url === 'string' ? c.url : c.url(), c.body);
      assert.equal(a.status, c.status, `status; body: ${a.text}`);
      if (c.message !== undefined) {
        assert.deepEqual(a.json, { message: typeof c.message === 'string' ? c.message : c.message() });
        assert.equal(a.headers['Content-Type'], 'application/json');
      }
      c.shape?.(a.json);
    });
  }

  it('leaves the runtime engine its own paths (the server proxies them)', async () => {
    const a = await request(app, 'GET', '/v1.41/containers/json');
    assert.equal(a.answered, false);
  });
});
