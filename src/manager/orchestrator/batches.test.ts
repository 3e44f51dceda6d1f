import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { StoreAction } from '../../store/actions.js';
import { MAX_REPLICAS } from '../controlapi/service-validation.js';
import { Harness } from '../testing/harness.js';
import { MAX_TASK_WRITES_PER_TX, Orchestrator } from './orchestrator.js';

/** Task writes of each proposed transaction: creations and removals asked for. */
interface TxSize {
  created: number;
  removed: number;
}

let h: Harness;
let sizes: TxSize[];

beforeEach(async () => {
  h = new Harness();
  await h.start();
  // Only the orchestrator writes: every transaction seen below is one of its own.
  for (const c of h.components) if (!(c instanceof Orchestrator)) c.stop();
  h.agentsRun = false;
  sizes = [];
  const propose = h.proposer.propose.bind(h.proposer);
  h.proposer.propose = (actions: readonly StoreAction[]): Promise<number> => {
    const tasks = actions.filter((a) => a.table === 'task');
    sizes.push({
      created: tasks.filter((a) => a.kind === 'create').length,
      removed: tasks.filter(
        (a) => a.kind === 'update' && 'DesiredState' in a.object && a.object.DesiredState === 'remove',
      ).length,
    });
    return propose(actions);
  };
});
afterEach(() => h.stop());

describe('the orchestrator writes tasks in bounded batches', () => {
  it('a large replica count is created over several transactions of at most 500 tasks', async () => {
    const replicas = 2_300;
    const id = await h.createService({ Name: 'big', Mode: { Replicated: { Replicas: replicas } } });
    await h.run(2_000);
    assert.equal(h.tasks(id).length, replicas, 'every slot gets its task in the end');
    assert.deepEqual(new Set(h.tasks(id).map((t) => t.Slot)).size, replicas, 'one task per slot');
    const creating = sizes.filter((s) => s.created > 0).map((s) => s.created);
    assert.ok(Math.max(...creating) <= MAX_TASK_WRITES_PER_TX, `batches: ${creating.join(', ')}`);
    assert.equal(creating.length, Math.ceil(replicas / MAX_TASK_WRITES_PER_TX), `batches: ${creating.join(', ')}`);
  });

  it('scaling down marks surplus tasks for removal in bounded batches too', async () => {
    const id = await h.createService({ Name: 'big', Mode: { Replicated: { Replicas: 1_200 } } });
    await h.run(1_000);
    sizes.length = 0;
    await h.updateService(id, (s) => ({ ...s, Mode: { Replicated: { Replicas: 0 } } }));
    await h.run(1_000);
    assert.equal(h.tasks(id).filter((t) => t.DesiredState !== 'remove').length, 0);
    const removing = sizes.filter((s) => s.removed > 0).map((s) => s.removed);
    assert.ok(Math.max(...removing) <= MAX_TASK_WRITES_PER_TX, `batches: ${removing.join(', ')}`);
    assert.equal(removing.length, 3, `batches: ${removing.join(', ')}`);
  });

  it('the replica limit itself is bounded at validation', async () => {
    await assert.rejects(
      h.createService({ Name: 'huge', Mode: { Replicated: { Replicas: MAX_REPLICAS + 1 } } }),
      /replicas cannot be more than 100000/,
    );
  });
});
