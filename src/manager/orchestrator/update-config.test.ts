/** Swarm's defaults and its monitor rule for update and rollback settings. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceObject, ServiceSpec } from '../../store/types.js';
import { effectiveUpdateConfig } from './update-config.js';

const service = (spec: Partial<ServiceSpec>, state?: 'updating' | 'rollback_started'): ServiceObject =>
  ({
    Spec: { Name: 's', TaskTemplate: {}, ...spec },
    ...(state ? { UpdateStatus: { State: state, Message: '' } } : {}),
  }) as unknown as ServiceObject;

describe('update config', () => {
  it("fills swarm's defaults: parallelism 1, pause, monitor 5s, ratio 0, stop-first", () => {
    assert.deepEqual(effectiveUpdateConfig(service({})), {
      parallelism: 1,
      delayMs: 0,
      failureAction: 'pause',
      monitorMs: 5000,
      maxFailureRatio: 0,
      order: 'stop-first',
    });
  });

  it('watches delay + 1s when the delay is at least the monitor window', () => {
    assert.equal(effectiveUpdateConfig(service({ UpdateConfig: { Delay: 10e9, Monitor: 5e9 } })).monitorMs, 11_000);
    assert.equal(effectiveUpdateConfig(service({ UpdateConfig: { Delay: 5e9, Monitor: 5e9 } })).monitorMs, 6000);
    assert.equal(effectiveUpdateConfig(service({ UpdateConfig: { Delay: 1e9, Monitor: 5e9 } })).monitorMs, 5000);
  });

  it('uses the rollback config while rolling back', () => {
    const s = service(
      {
        UpdateConfig: { Parallelism: 2, Monitor: 1e9 },
        RollbackConfig: { Parallelism: 0, FailureAction: 'continue', Order: 'start-first' },
      },
      'rollback_started',
    );
    const c = effectiveUpdateConfig(s);
    assert.equal(c.parallelism, 0);
    assert.equal(c.failureAction, 'continue');
    assert.equal(c.order, 'start-first');
    assert.equal(c.monitorMs, 5000);
    assert.equal(effectiveUpdateConfig(service(s.Spec, 'updating')).parallelism, 2);
  });
});
