import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ServiceDependency, ServiceSpec } from '../../store/types.js';
import { Harness } from '../testing/harness.js';

let h: Harness;
beforeEach(async () => {
  h = new Harness();
  await h.start();
});
afterEach(() => h.stop());

const on = (...names: string[]): ServiceDependency[] =>
  names.map((Service) => ({ Service, Condition: 'service_started' as const }));
const refused = (desc: string) => ({ message: `rpc error: code = InvalidArgument desc = DependsOn: ${desc}` });

describe('DependsOn validation', () => {
  it('refuses unknown conditions, empty names, self and duplicate dependencies', async () => {
    const bad = { Service: 'db', Condition: 'service_ready' } as unknown as ServiceDependency;
    await assert.rejects(
      h.createService({ Name: 'web', DependsOn: [bad] }),
      refused(
        'invalid condition "service_ready" for db (must be service_started, service_healthy, service_completed_successfully)',
      ),
    );
    await assert.rejects(
      h.createService({ Name: 'web', DependsOn: on('') }),
      refused('a dependency must name a service'),
    );
    await assert.rejects(
      h.createService({ Name: 'web', DependsOn: on('web') }),
      refused('service web cannot depend on itself'),
    );
    await assert.rejects(
      h.createService({ Name: 'web', DependsOn: on('db', 'db') }),
      refused('duplicate dependency on db'),
    );
    assert.equal(h.store.view((tx) => tx.all('service')).length, 0);
  });

  it('allows a dependency on a service that does not exist yet', async () => {
    const id = await h.createService({ Name: 'wp_web', DependsOn: on('wp_db') });
    assert.deepEqual(h.service(id).Spec.DependsOn, on('wp_db'));
  });

  it('refuses a cycle at create and at update, naming it', async () => {
    await h.createService({ Name: 'wp_web', DependsOn: on('wp_db') });
    await assert.rejects(
      h.createService({ Name: 'wp_db', DependsOn: on('wp_web') }),
      refused('dependency cycle: wp_db -> wp_web -> wp_db'),
    );
    const cache = await h.createService({ Name: 'wp_cache' });
    await h.createService({ Name: 'wp_db', DependsOn: on('wp_cache') });
    await assert.rejects(
      h.updateService(cache, (s) => ({ ...s, DependsOn: on('wp_web') })),
      refused('dependency cycle: wp_cache -> wp_web -> wp_db -> wp_cache'),
    );
    assert.equal(h.service(cache).Spec.DependsOn, undefined);
  });

  it('a diamond is not a cycle', async () => {
    await h.createService({ Name: 'base' });
    await h.createService({ Name: 'left', DependsOn: on('base') });
    await h.createService({ Name: 'right', DependsOn: on('base') });
    await h.createService({ Name: 'top', DependsOn: on('left', 'right') });
  });

  it('an update without DependsOn keeps the stored one (the docker CLI drops it); [] clears it', async () => {
    const id = await h.createService({ Name: 'web', DependsOn: on('db') });
    await h.updateService(id, (s): ServiceSpec => {
      const { DependsOn: _dropped, ...rest } = s;
      return { ...rest, Labels: { touched: '1' } };
    });
    assert.deepEqual(h.service(id).Spec.DependsOn, on('db'));
    assert.equal(h.service(id).Spec.Labels?.touched, '1');
    await h.updateService(id, (s) => ({ ...s, DependsOn: [] }));
    assert.deepEqual(h.service(id).Spec.DependsOn, []);
  });

  it('changing DependsOn does not restart the tasks', async () => {
    await h.addNode({ hostname: 'n1' });
    const id = await h.createService({ Name: 'web' });
    await h.run(500);
    const before = h.service(id).SpecVersion;
    await h.updateService(id, (s) => ({ ...s, DependsOn: on('db') }));
    await h.run(500);
    assert.equal(h.service(id).SpecVersion, before);
    assert.equal(h.running(id).length, 1);
  });
});
