/**
 * Request bodies decode as the Docker daemon's encoding/json decodes them: other key cases give
 * the same canonical spec, unknown fields are dropped, and type mismatches fail with Go's text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShoalError } from '../../common/errors.js';
import { CLUSTER_SPEC, INIT_REQUEST, SERVICE_SPEC } from '../engine-types.js';
import { boolParam, parseJsonBody } from '../router.js';
import { decodeGo } from './decode.js';

const canonical = {
  Name: 'web',
  Labels: { a: 'b' },
  TaskTemplate: {
    ContainerSpec: { Image: 'busybox', Command: ['sleep', '1'] },
    RestartPolicy: { Condition: 'any', MaxAttempts: 3 },
  },
  Mode: { Replicated: { Replicas: 2 } },
  RollbackConfig: { Order: 'start-first', Parallelism: 1 },
  EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
};

describe('Go-style decoding of request bodies', () => {
  const sameAs: [string, unknown][] = [
    ['the canonical form', canonical],
    [
      'lower-case keys',
      {
        name: 'web',
        labels: { a: 'b' },
        tasktemplate: {
          containerspec: { image: 'busybox', command: ['sleep', '1'] },
          restartpolicy: { condition: 'any', maxattempts: 3 },
        },
        mode: { replicated: { replicas: 2 } },
        rollbackconfig: { order: 'start-first', parallelism: 1 },
        endpointspec: { ports: [{ targetport: 80, publishedport: 8080 }] },
      },
    ],
    [
      'mixed case, as a popular client sends it',
      {
        Name: 'web',
        Labels: { a: 'b' },
        TaskTemplate: {
          ContainerSpec: { image: 'busybox', Command: ['sleep', '1'] },
          RestartPolicy: { Condition: 'any', maxAttempts: 3 },
        },
        Mode: { replicated: { Replicas: 2 } },
        RollbackConfig: { order: 'start-first', Parallelism: 1 },
        EndpointSpec: { Ports: [{ TargetPort: 80, publishedPort: 8080 }] },
      },
    ],
    [
      'unknown fields and nulls',
      {
        ...canonical,
        Bogus: { deep: [1, 2] },
        UpdateConfig: null,
        TaskTemplate: { ...canonical.TaskTemplate, Whatever: true },
      },
    ],
  ];
  for (const [name, body] of sameAs) {
    it(`decodes ${name} to the canonical spec`, () => {
      assert.deepEqual(decodeGo(body, SERVICE_SPEC), canonical);
    });
  }

  it('keeps label keys as they are (map keys are not field names)', () => {
    assert.deepEqual(decodeGo({ labels: { Constructor: 'x', __proto__: 'y' } }, SERVICE_SPEC), {
      Labels: { Constructor: 'x', __proto__: 'y' },
    });
    assert.equal(
      Object.getPrototypeOf(
        decodeGo<{ Labels: object }>({ Labels: JSON.parse('{"__proto__":"y"}') }, SERVICE_SPEC).Labels,
      ),
      Object.prototype,
    );
  });

  const refused: [string, unknown, string][] = [
    [
      'a string for replicas',
      { Mode: { Replicated: { Replicas: 'two' } } },
      'json: cannot unmarshal string into Go struct field ReplicatedService.Mode.Replicated.Replicas of type uint64',
    ],
    [
      'negative replicas',
      { Mode: { Replicated: { Replicas: -1 } } },
      'json: cannot unmarshal number -1 into Go struct field ReplicatedService.Mode.Replicated.Replicas of type uint64',
    ],
    [
      'a fraction for replicas',
      { Mode: { Replicated: { Replicas: 1.5 } } },
      'json: cannot unmarshal number 1.5 into Go struct field ReplicatedService.Mode.Replicated.Replicas of type uint64',
    ],
    [
      'a number for the image',
      { TaskTemplate: { ContainerSpec: { Image: 5 } } },
      'json: cannot unmarshal number into Go struct field ContainerSpec.TaskTemplate.ContainerSpec.Image of type string',
    ],
    [
      'an object for the command',
      { TaskTemplate: { ContainerSpec: { Command: { a: 1 } } } },
      'json: cannot unmarshal object into Go struct field ContainerSpec.TaskTemplate.ContainerSpec.Command of type []string',
    ],
    [
      'an array for labels',
      { Labels: ['a'] },
      'json: cannot unmarshal array into Go struct field ServiceSpec.Labels of type map[string]string',
    ],
    ['an array as the whole spec', [1], 'json: cannot unmarshal array into Go value of type swarm.ServiceSpec'],
    [
      'a string as a duration',
      { TaskTemplate: { RestartPolicy: { Delay: '5s' } } },
      'json: cannot unmarshal string into Go struct field RestartPolicy.TaskTemplate.RestartPolicy.Delay of type time.Duration',
    ],
  ];
  for (const [name, body, message] of refused) {
    it(`refuses ${name} with Go's message`, () => {
      assert.throws(
        () => decodeGo(body, SERVICE_SPEC),
        (e: unknown) => e instanceof ShoalError && e.code === 'invalid_argument' && e.message === message,
      );
    });
  }

  it('decodes init requests and cluster specs in any case', () => {
    assert.deepEqual(
      decodeGo(
        {
          listenaddr: '0.0.0.0:2377',
          spec: { raft: { snapshotinterval: 5 }, encryptionconfig: { autolockmanagers: true } },
        },
        INIT_REQUEST,
      ),
      {
        ListenAddr: '0.0.0.0:2377',
        Spec: { Raft: { SnapshotInterval: 5 }, EncryptionConfig: { AutoLockManagers: true } },
      },
    );
    assert.throws(
      () => decodeGo({ Raft: { ElectionTick: true } }, CLUSTER_SPEC),
      /cannot unmarshal bool into Go struct field RaftConfig.Raft.ElectionTick of type int/,
    );
  });

  it("reads query booleans as Go's strconv.ParseBool", () => {
    for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True'])
      assert.equal(boolParam(new URLSearchParams({ x: v }), 'x'), true, v);
    for (const v of ['0', 'f', 'F', 'FALSE', 'false', 'False', ''])
      assert.equal(boolParam(new URLSearchParams({ x: v }), 'x'), false, v);
    assert.equal(boolParam(new URLSearchParams(), 'x'), false);
    for (const v of ['yes', 'tRUE', '2', 'on']) {
      assert.throws(() => boolParam(new URLSearchParams({ status: v }), 'status'), {
        message: `invalid value for status: ${v}: strconv.ParseBool: parsing "${v}": invalid syntax`,
      });
    }
  });

  it('refuses malformed and deeply nested JSON with a 400', () => {
    assert.throws(
      () => parseJsonBody('{"a":'),
      (e: unknown) => e instanceof ShoalError && e.code === 'invalid_argument',
    );
    assert.throws(() => parseJsonBody('['.repeat(6000) + ']'.repeat(6000)), /nested deeper than 64 levels/);
    assert.deepEqual(parseJsonBody('  '), {});
  });
});
