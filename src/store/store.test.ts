import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../common/clock.js';
import type { StoreEvent } from './actions.js';
import { MemoryProposer } from './proposer.js';
import { decodeSnapshot, encodeSnapshot } from './persist/snapshot.js';
import { Store } from './store.js';
import type { NodeObject } from './types.js';

function setup(): { store: Store; proposer: MemoryProposer } {
  const proposer = new MemoryProposer();
  const store = new Store(proposer, new VirtualClock(1000));
  proposer.bind((i, a) => store.apply(i, a));
  return { store, proposer };
}

const node = (id: string): NodeObject =>
  ({
    ID: id,
    Version: { Index: 0 },
    CreatedAt: 0,
    UpdatedAt: 0,
    Spec: { Labels: {}, Role: 'worker', Availability: 'active' },
    Description: {
      Hostname: id,
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 1, MemoryBytes: 1 },
      Engine: { EngineVersion: '', Plugins: [] },
    },
    Status: { State: 'ready', Addr: '' },
  }) as unknown as NodeObject;

describe('store', () => {
  it('changes state only through committed proposals, stamping Version.Index', async () => {
    const { store, proposer } = setup();
    await store.update((tx) => tx.create('node', node('a')));
    const a = store.view((tx) => tx.get('node', 'a'))!;
    assert.equal(a.Version.Index, proposer.lastIndex);
    assert.equal(a.CreatedAt, 1000);
  });

  it('refuses a stale update with "update out of sequence" and changes nothing', async () => {
    const { store } = setup();
    await store.update((tx) => tx.create('node', node('a')));
    const stale = store.view((tx) => tx.get('node', 'a'))!;
    await store.update((tx) => tx.update('node', { ...stale, Spec: { ...stale.Spec, Availability: 'drain' } }));
    await assert.rejects(
      store.update((tx) => tx.update('node', { ...stale, Spec: { ...stale.Spec, Availability: 'pause' } })),
      /update out of sequence/,
    );
    assert.equal(store.view((tx) => tx.get('node', 'a'))!.Spec.Availability, 'drain');
  });

  it('proposes nothing when the transaction throws', async () => {
    const { store, proposer } = setup();
    const before = proposer.lastIndex;
    await assert.rejects(
      store.update((tx) => {
        tx.create('node', node('a'));
        throw new Error('abort');
      }),
    );
    assert.equal(proposer.lastIndex, before);
    assert.equal(
      store.view((tx) => tx.get('node', 'a')),
      undefined,
    );
  });

  it('sees its own writes inside a transaction and emits events plus a commit marker', async () => {
    const { store } = setup();
    const seen: StoreEvent[] = [];
    store.watch((ev) => seen.push(...ev));
    await store.update((tx) => {
      tx.create('node', node('a'));
      assert.equal(tx.get('node', 'a')?.ID, 'a');
      assert.equal(tx.all('node').length, 1);
      tx.delete('node', 'a');
      assert.equal(tx.all('node').length, 0);
    });
    assert.deepEqual(
      seen.map((e) => e.kind),
      ['create', 'delete', 'commit'],
    );
  });

  it('does not let readers mutate committed state', async () => {
    const { store } = setup();
    const n = node('a');
    await store.update((tx) => tx.create('node', n));
    n.Spec.Labels.x = 'y';
    assert.deepEqual(store.view((tx) => tx.get('node', 'a'))!.Spec.Labels, {});
  });

  it('round-trips its state through snapshot chunks, in many chunks, and refuses a foreign format', async () => {
    const { store } = setup();
    await store.update((tx) => {
      for (let i = 0; i < 450; i++) tx.create('node', node(`n${i}`));
    });
    const chunks: Uint8Array[] = [];
    for await (const c of encodeSnapshot([...store.dump()])) chunks.push(c);
    assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
    const { store: copy } = setup();
    await copy.restoreFrom(
      store.index,
      decodeSnapshot(
        (async function* () {
          yield* chunks;
        })(),
      ),
    );
    assert.deepEqual(
      copy.view((tx) => tx.all('node')),
      store.view((tx) => tx.all('node')),
    );
    const bad = (async function* () {
      yield new TextEncoder().encode('{"format":99}\n');
    })();
    await assert.rejects(copy.restoreFrom(1, decodeSnapshot(bad)), /unsupported format 99/);
    assert.equal(copy.view((tx) => tx.all('node')).length, 450, 'a failed restore changes nothing');
  });
});
