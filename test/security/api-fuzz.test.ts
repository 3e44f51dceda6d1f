/**
 * A property-based fuzz of every route shoal serves on the Engine API, in-process against a real
 * store: malformed paths, escapes, query values and bodies (random JSON, and valid specs with one
 * part replaced by something hostile). No request may get a 500 (other than Docker's own
 * `update out of sequence`), throw, or hang, and a refused request (4xx) must change nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createApiApp } from '../../src/api/app.js';
import { request } from '../../src/api/testing/in-process.js';
import { VirtualClock } from '../../src/common/clock.js';
import { ShoalError } from '../../src/common/errors.js';
import type { NodeId } from '../../src/common/ids.js';
import { SeededRandom } from '../../src/common/random.js';
import { noLeaderHooks } from '../../src/manager/controlapi/context.js';
import { localClusterApi } from '../../src/manager/controlapi/methods.js';
import type { NodeApi } from '../../src/manager/controlapi/node-api.js';
import { firstManagerNode, initialCluster } from '../../src/manager/controlapi/swarm-init.js';
import { MemoryProposer } from '../../src/store/proposer.js';
import { Store } from '../../src/store/store.js';

const RUNS = Number(process.env.SHOAL_FUZZ_RUNS ?? 12_000);
const PER_REQUEST_MS = 2000;

const routes: [string, string][] = [
  ['GET', '/_ping'],
  ['GET', '/version'],
  ['GET', '/info'],
  ['GET', '/swarm'],
  ['POST', '/swarm/init'],
  ['POST', '/swarm/join'],
  ['POST', '/swarm/leave'],
  ['POST', '/swarm/update'],
  ['GET', '/swarm/unlockkey'],
  ['POST', '/swarm/unlock'],
  ['GET', '/nodes'],
  ['GET', '/nodes/{id}'],
  ['POST', '/nodes/{id}/update'],
  ['DELETE', '/nodes/{id}'],
  ['GET', '/services'],
  ['POST', '/services/create'],
  ['GET', '/services/{id}'],
  ['POST', '/services/{id}/update'],
  ['DELETE', '/services/{id}'],
  ['GET', '/services/{id}/logs'],
  ['GET', '/tasks'],
  ['GET', '/tasks/{id}'],
  ['GET', '/tasks/{id}/logs'],
  ['GET', '/secrets'],
  ['POST', '/configs/create'],
  ['GET', '/distribution/{id}/json'],
];

const validSpec = {
  Name: 'fz',
  TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
  Mode: { Replicated: { Replicas: 1 } },
};

/** Replaces the value at one path of `obj` (creating the path) with `v`. */
function plant(obj: unknown, pathParts: readonly string[], v: unknown): unknown {
  const root = structuredClone(obj) as Record<string, unknown>;
  let cur: Record<string, unknown> = root;
  for (const p of pathParts.slice(0, -1)) {
    const next = cur[p];
    cur[p] = next && typeof next === 'object' ? next : {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[pathParts.at(-1)!] = v;
  return root;
}

const hostileString = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '',
    '..',
    '../..',
    '%zz',
    '%00',
    '%2e%2e',
    '%73ecrets',
    'web',
    'fz',
    'manager1',
    'n1',
    '__proto__',
    'constructor',
    'a'.repeat(5000),
    '\u0000',
    'ü/ß',
    '*',
    '{id}',
  ),
);
const idArb = fc.oneof(hostileString, fc.constantFrom('web', 'n1', 'manager1'));
const jsonish = fc.jsonValue({ maxDepth: 6 });
const bodyArb = fc.oneof(
  jsonish,
  fc.constant(null),
  fc.constant(validSpec),
  fc
    .tuple(
      fc.constantFrom(
        ['Name'],
        ['Mode'],
        ['Mode', 'Replicated', 'Replicas'],
        ['TaskTemplate'],
        ['TaskTemplate', 'ContainerSpec'],
        ['TaskTemplate', 'ContainerSpec', 'Image'],
        ['TaskTemplate', 'ContainerSpec', 'Mounts'],
        ['TaskTemplate', 'Placement', 'Constraints'],
        ['TaskTemplate', 'RestartPolicy'],
        ['EndpointSpec', 'Ports'],
        ['UpdateConfig', 'Parallelism'],
        ['Labels'],
        ['Role'],
        ['Availability'],
        ['Spec', 'Raft'],
        ['CAConfig', 'NodeCertExpiry'],
        ['UnlockKey'],
      ),
      jsonish,
    )
    .map(([p, v]) => plant(validSpec, p, v)),
);
const queryArb = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'version',
        'filters',
        'status',
        'force',
        'insertDefaults',
        'rollback',
        'follow',
        'stdout',
        'stderr',
        'tail',
        'since',
        'timestamps',
        'rotateWorkerToken',
      ),
      fc.oneof(
        hostileString,
        fc.constantFrom(
          '1',
          'true',
          '0',
          '{"name":{"web":true}}',
          '{"label":["a=b"]}',
          '{"role":{"x":1}}',
          '[]',
          'null',
          '-1',
          '99999999999999999999',
        ),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` : ''));

describe('Engine API fuzz', { timeout: 600_000 }, () => {
  it(`answers ${RUNS} hostile requests without a 500, a throw, a hang or a change from a refused request`, async () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const proposer = new MemoryProposer();
    const store = new Store(proposer, clock);
    proposer.bind((i, a) => store.apply(i, a));
    const random = new SeededRandom(7);
    await store.update((tx) => {
      tx.create('cluster', initialCluster({ clusterId: 'c1', req: {}, ca: { certPem: 'CERT' }, now: tx.now, random }));
      tx.create(
        'node',
        firstManagerNode({
          nodeId: 'n1' as NodeId,
          role: 'manager',
          availability: 'active',
          description: {
            Hostname: 'manager1',
            Platform: { Architecture: 'x86_64', OS: 'linux' },
            Resources: { NanoCPUs: 1e9, MemoryBytes: 2 ** 30 },
            Engine: { EngineVersion: '20.10', Plugins: [] },
          },
          ip: '10.0.0.1',
          clusterAddr: '10.0.0.1:2377',
          now: tx.now,
        }),
      );
    });
    const cluster = localClusterApi({ store, random, logSource: () => undefined, leader: noLeaderHooks });
    await cluster.createService({ ...structuredClone(validSpec), Name: 'web' } as never);
    const refuse = (): Promise<never> =>
      Promise.reject(new ShoalError('unavailable', 'This node is already part of a swarm.'));
    const node: NodeApi = {
      swarmInit: refuse,
      swarmJoin: refuse,
      swarmLeave: async () => undefined,
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
      logs: async function* () {},
    };
    const app = createApiApp({
      node,
      cluster,
      engine: { json: async <T>() => ({ ApiVersion: '1.41' }) as T, lines: async function* () {} },
    });
    const statuses = new Map<number, number>();
    let count = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.constantFrom('', '/v1.41', '/v1.24', '/v9.99', '/v1.41/'),
        idArb,
        queryArb,
        bodyArb,
        async ([method, template], prefix, id, query, body) => {
          const url = `${prefix}${template.replace('{id}', encodeURIComponent(id))}${query}`;
          const before = proposer.lastIndex;
          const answer = await Promise.race([
            request(app, method, url, body),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error(`hung: ${method} ${url}`)), PER_REQUEST_MS),
            ),
          ]);
          count++;
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const outOfSequence = answer.status === 500 && /update out of sequence/.test(answer.text);
          assert.ok(
            answer.status < 500 || answer.status === 501 || answer.status === 503 || outOfSequence,
            `${method} ${url} ${JSON.stringify(body)?.slice(0, 300)} -> ${answer.status} ${answer.text}`,
          );
          if (answer.status >= 400)
            assert.equal(proposer.lastIndex, before, `a refused ${method} ${url} changed the store`);
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.SHOAL_FUZZ_SEED ?? 20261201) },
    );
    console.log(
      `# fuzz: ${count} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
    );
  });
});
