/** A node gets only the secrets and configs its live tasks reference, and loses them with the last one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigObject, SecretObject, TaskObject, TaskState } from '../../store/types.js';
import { payloadsFor } from './payload-view.js';

const meta = { Version: { Index: 1 }, CreatedAt: 0, UpdatedAt: 0 };
const secret = (id: string): SecretObject => ({
  ID: id,
  ...meta,
  Spec: { Name: id, Labels: {}, Data: Buffer.from(id).toString('base64') },
});
const config = (id: string): ConfigObject => ({ ID: id, ...meta, Spec: { Name: id, Labels: {}, Data: 'eA==' } });
const file = { Name: 'f', UID: '0', GID: '0', Mode: 0o444 };

function task(state: TaskState, desired: TaskState, secrets: string[], configs: string[] = []): TaskObject {
  return {
    ID: `t-${state}-${secrets.join('')}`,
    ...meta,
    ServiceID: 's' as TaskObject['ServiceID'],
    Slot: 1,
    Spec: {
      ContainerSpec: {
        Image: 'busybox',
        Secrets: secrets.map((s) => ({ File: file, SecretID: s, SecretName: s })),
        Configs: configs.map((c) => ({ File: file, ConfigID: c, ConfigName: c })),
      },
    },
    SpecVersion: 1,
    ServiceAnnotations: { Name: 's', Labels: {} },
    Annotations: { Name: 's.1' },
    Status: { Timestamp: 0, State: state, Message: '' },
    DesiredState: desired,
  } as TaskObject;
}

describe('payloadsFor', () => {
  const all = { secrets: [secret('a'), secret('b'), secret('c')], configs: [config('x'), config('y')] };

  it('sends only what live tasks reference', () => {
    const got = payloadsFor([task('running', 'running', ['a'], ['x']), task('assigned', 'ready', ['b'])], all);
    assert.deepEqual(got.map((p) => `${p.kind}:${p.id}`).sort(), ['config:x', 'secret:a', 'secret:b']);
  });

  it('drops what only finished or stopping tasks reference', () => {
    const got = payloadsFor(
      [task('complete', 'shutdown', ['a']), task('running', 'shutdown', ['b']), task('failed', 'running', ['c'])],
      all,
    );
    assert.deepEqual(got, []);
  });

  it('sends nothing for a node without tasks', () => {
    assert.deepEqual(payloadsFor([], all), []);
  });
});
