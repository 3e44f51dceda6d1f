/**
 * A property over random histories: whatever operators and faults do (updates to good and missing
 * images, failure actions, scaling, crashing tasks, nodes going down and drained, manual rollbacks),
 * a stop-first replicated service never has two runnable tasks in one slot, and once the faults stop
 * it converges to its replica count on the spec it holds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ServiceSpec, TaskObject } from '../../store/types.js';
import { Harness } from '../testing/harness.js';

type Action =
  | { kind: 'image'; image: string; failureAction: 'pause' | 'rollback' | 'continue'; parallelism: number }
  | { kind: 'scale'; replicas: number }
  | { kind: 'crash'; pick: number }
  | { kind: 'node'; pick: number; state: 'down' | 'ready' }
  | { kind: 'drain'; pick: number; availability: 'drain' | 'active' }
  | { kind: 'rollback' };

const IMAGES = ['good:1', 'good:2', 'missing:1', 'crashy:1'];
const NODES = ['n1', 'n2', 'n3'];

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant('image' as const),
    image: fc.constantFrom(...IMAGES),
    failureAction: fc.constantFrom('pause' as const, 'rollback' as const, 'continue' as const),
    parallelism: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constant('scale' as const), replicas: fc.integer({ min: 0, max: 6 }) }),
  fc.record({ kind: fc.constant('crash' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('node' as const),
    pick: fc.nat(),
    state: fc.constantFrom('down' as const, 'ready' as const),
  }),
  fc.record({
    kind: fc.constant('drain' as const),
    pick: fc.nat(),
    availability: fc.constantFrom('drain' as const, 'active' as const),
  }),
  fc.record({ kind: fc.constant('rollback' as const) }),
);

/** Replicated slots by number, global ones by node. */
function doubledSlot(tasks: readonly TaskObject[]): string | undefined {
  const bySlot = new Map<string, TaskObject[]>();
  for (const t of tasks) {
    if (t.DesiredState !== 'running' && t.DesiredState !== 'ready') continue;
    const key = t.Slot > 0 ? String(t.Slot) : `node ${t.NodeID ?? t.ID}`;
    bySlot.set(key, [...(bySlot.get(key) ?? []), t]);
  }
  for (const [slot, list] of bySlot) {
    if (list.length > 1)
      return `slot ${slot}: ${list.map((t) => `${t.ID} ${t.Origin} v${t.SpecVersion} ${t.DesiredState}/${t.Status.State}`).join(', ')}`;
  }
  return undefined;
}

async function apply(h: Harness, id: string, a: Action): Promise<void> {
  const s = h.service(id);
  switch (a.kind) {
    case 'image':
      await h.updateService(id, (spec) => ({
        ...spec,
        TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { Image: a.image } },
        UpdateConfig: { Parallelism: a.parallelism, Delay: 1e9, FailureAction: a.failureAction, Monitor: 1e9 },
      }));
      return;
    case 'scale':
      await h.updateService(id, (spec) => ({ ...spec, Mode: { Replicated: { Replicas: a.replicas } } }));
      return;
    case 'crash': {
      const running = h.running(id);
      if (running.length) await h.setTaskState(running[a.pick % running.length]!.ID, 'failed', { Err: 'exit 137' });
      return;
    }
    case 'node':
      await h.setNode(`node-${NODES[a.pick % NODES.length]}`, (n) => ({
        ...n,
        Status: { ...n.Status, State: a.state },
      }));
      return;
    case 'drain':
      await h.setNode(`node-${NODES[a.pick % NODES.length]}`, (n) => ({
        ...n,
        Spec: { ...n.Spec, Availability: a.availability },
      }));
      return;
    case 'rollback':
      if (s.PreviousSpec) await h.control.updateService(id, s.Version.Index, s.Spec, { rollback: true });
      return;
  }
}

describe('slot invariant under random histories', () => {
  for (const mode of ['replicated', 'global'] as const)
    it(`${mode}: never two runnable tasks in a slot; converges once faults stop`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(action, fc.integer({ min: 0, max: 12_000 })), { minLength: 1, maxLength: 8 }),
          async (history) => {
            const h = new Harness();
            await h.start();
            try {
              for (const n of NODES) await h.addNode({ hostname: n });
              h.missingImages.add('missing:1');
              h.failAfter.set('crashy:1', 300);
              h.slowStop.set('good:1', 2_000);
              const spec: Partial<ServiceSpec> & { Name: string } = {
                Name: 'web',
                // A scale action on the global service is refused (a mode change) and changes nothing.
                Mode: mode === 'global' ? { Global: {} } : { Replicated: { Replicas: 4 } },
                TaskTemplate: {
                  ContainerSpec: { Image: 'good:1' },
                  RestartPolicy: { Condition: 'on-failure', Delay: 1e9, MaxAttempts: 3, Window: 20e9 },
                },
              };
              const id = await h.createService(spec);
              await h.run(1_000);
              const check = (when: string): void => {
                const d = doubledSlot(h.tasks(id));
                assert.equal(d, undefined, `${when}: ${d}`);
              };
              for (const [i, [a, wait]] of history.entries()) {
                // A refused update (out of sequence, a rollback with no previous spec) changes nothing.
                await apply(h, id, a).catch(() => undefined);
                for (let t = 0; t <= wait; t += 100) {
                  await h.run(100);
                  check(`after action ${i} (${JSON.stringify(a)}) +${t} ms`);
                }
              }
              // Faults stop: every node back, a good image, the update resumed if it paused.
              for (const n of NODES)
                await h.setNode(`node-${n}`, (x) => ({
                  ...x,
                  Status: { ...x.Status, State: 'ready' },
                  Spec: { ...x.Spec, Availability: 'active' },
                }));
              await h.updateService(id, (sp) => ({
                ...sp,
                TaskTemplate: { ...sp.TaskTemplate, ContainerSpec: { Image: 'good:3' } },
                UpdateConfig: { Parallelism: 0, FailureAction: 'continue', Monitor: 1e9 },
              }));
              for (let t = 0; t < 30_000; t += 100) {
                await h.run(100);
                check(`settling +${t} ms`);
              }
              const m = h.service(id).Spec.Mode;
              const want = 'Replicated' in m ? (m.Replicated.Replicas ?? 1) : NODES.length;
              const running = h.running(id);
              assert.equal(running.length, want, `running ${running.length} of ${want}`);
              assert.ok(running.every((t) => t.Spec.ContainerSpec?.Image === 'good:3'));
            } finally {
              h.stop();
            }
          },
        ),
        { numRuns: Number(process.env.SLOT_RUNS ?? 30), seed: Number(process.env.SLOT_SEED ?? 20261202) },
      );
    });
});
