import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskObject, TaskState } from '../store/types.js';
import { nextStep, type ContainerView } from './transition.js';

const task = (desired: TaskState): TaskObject => ({ DesiredState: desired }) as TaskObject;
const missing: ContainerView = { kind: 'missing' };
const c = (o: Partial<Extract<ContainerView, { kind: 'present' }>>): ContainerView => ({
  kind: 'present',
  id: 'c1',
  running: false,
  exited: false,
  exitCode: 0,
  pid: 0,
  health: 'none',
  error: '',
  ...o,
});

describe('agent transitions', () => {
  it('walks a task forward one state at a time', () => {
    assert.deepEqual(nextStep(task('running'), 'assigned', missing), {
      kind: 'report',
      state: 'accepted',
      message: 'accepted',
    });
    assert.deepEqual(nextStep(task('running'), 'accepted', missing), {
      kind: 'report',
      state: 'preparing',
      message: 'preparing',
    });
    assert.deepEqual(nextStep(task('running'), 'preparing', missing), { kind: 'prepare' });
    assert.deepEqual(nextStep(task('running'), 'preparing', c({})), {
      kind: 'report',
      state: 'ready',
      message: 'prepared',
    });
    assert.deepEqual(nextStep(task('running'), 'ready', c({})), {
      kind: 'report',
      state: 'starting',
      message: 'starting',
    });
    assert.deepEqual(nextStep(task('running'), 'starting', c({})), { kind: 'start' });
    assert.deepEqual(nextStep(task('running'), 'starting', c({ running: true })), {
      kind: 'report',
      state: 'running',
      message: 'started',
    });
  });

  it('holds a replacement at ready until it is meant to run', () => {
    assert.deepEqual(nextStep(task('ready'), 'ready', c({})), { kind: 'wait' });
  });

  it('counts a task as running only once healthy', () => {
    assert.deepEqual(nextStep(task('running'), 'starting', c({ running: true, health: 'starting' })), { kind: 'wait' });
    assert.equal(nextStep(task('running'), 'starting', c({ running: true, health: 'healthy' })).kind, 'report');
    const s = nextStep(task('running'), 'running', c({ running: true, health: 'unhealthy' }));
    assert.equal(s.kind, 'stop');
    assert.equal(s.kind === 'stop' && s.after?.err, 'unhealthy container');
  });

  it('starts a job task (desired complete) and waits while a replacement is held as ready', () => {
    assert.deepEqual(nextStep(task('complete'), 'ready', c({})), {
      kind: 'report',
      state: 'starting',
      message: 'starting',
    });
    assert.deepEqual(nextStep(task('ready'), 'ready', c({})), { kind: 'wait' });
    assert.deepEqual(nextStep(task('complete'), 'running', c({ exited: true, exitCode: 0 })), {
      kind: 'report',
      state: 'complete',
      message: 'finished',
    });
  });

  it('reports exits like Docker', () => {
    assert.deepEqual(nextStep(task('running'), 'running', c({ exited: true, exitCode: 0 })), {
      kind: 'report',
      state: 'complete',
      message: 'finished',
    });
    assert.deepEqual(nextStep(task('running'), 'running', c({ exited: true, exitCode: 137 })), {
      kind: 'report',
      state: 'failed',
      message: 'started',
      err: 'task: non-zero exit (137)',
    });
    assert.equal(nextStep(task('running'), 'running', missing).kind, 'report');
  });

  it('stops a running container when shutdown is desired, then reports shutdown', () => {
    assert.deepEqual(nextStep(task('shutdown'), 'running', c({ running: true })), { kind: 'stop' });
    assert.deepEqual(nextStep(task('shutdown'), 'running', c({ exited: true })), {
      kind: 'report',
      state: 'shutdown',
      message: 'shutdown',
    });
    assert.deepEqual(nextStep(task('remove'), 'assigned', missing), {
      kind: 'report',
      state: 'shutdown',
      message: 'shutdown',
    });
  });
});
