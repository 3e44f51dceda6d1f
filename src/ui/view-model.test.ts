import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskObject } from '../store/types.js';
import { isCurrent, slotHistory, uiTask } from './view-model.js';

function task(id: string, slot: number, state: string, desired: string, createdAt: number): TaskObject {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: createdAt,
    UpdatedAt: createdAt,
    ServiceID: 'svc',
    Slot: slot,
    NodeID: 'n1',
    Spec: { ContainerSpec: { Image: 'busybox:1@sha256:abcdef' }, Resources: { Reservations: { MemoryBytes: 64 } } },
    SpecVersion: 1,
    ServiceAnnotations: { Name: 'web', Labels: {} },
    Annotations: { Name: '' },
    Status: { Timestamp: createdAt, State: state, Message: '', ...(state === 'failed' ? { Err: 'exit 1' } : {}) },
    DesiredState: desired,
  } as TaskObject;
}

describe('visualizer view model', () => {
  it('keeps running and stopping tasks on the board, finished history off it', () => {
    assert.ok(isCurrent(task('a', 1, 'pending', 'running', 1)));
    assert.ok(isCurrent(task('b', 1, 'running', 'shutdown', 1)), 'still stopping');
    assert.ok(!isCurrent(task('c', 1, 'shutdown', 'shutdown', 1)));
    assert.ok(!isCurrent(task('d', 1, 'failed', 'shutdown', 1)));
  });

  it('names cards as service ps does and drops the digest', () => {
    const t = uiTask(task('a', 3, 'running', 'running', 1));
    assert.equal(t.name, 'web.3');
    assert.equal(t.image, 'busybox:1');
    assert.equal(t.memoryBytes, 64);
  });

  it("gives a slot's tasks newest first, not another slot's", () => {
    const all = [
      task('old', 1, 'failed', 'shutdown', 1),
      task('new', 1, 'running', 'running', 2),
      task('other', 2, 'running', 'running', 3),
    ];
    const h = slotHistory(all[1]!, all);
    assert.deepEqual(
      h.map((e) => e.id),
      ['new', 'old'],
    );
    assert.equal(h[1]!.err, 'exit 1');
  });
});
