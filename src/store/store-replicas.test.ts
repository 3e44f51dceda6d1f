/**
 * The store as several members see it: entries applied in log order on each, snapshots restored.
 * Writes must be checked at apply time so every member agrees, and a restore must reach watchers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../common/clock.js';
import type { StoreAction, StoreEvent } from './actions.js';
import type { Proposer } from './proposer.js';
import { Store } from './store.js';
import type { NodeObject } from './types.js';

/** A shared log whose entries the test commits by hand, in an order it chooses. */
class HandLog {
  readonly entries: (readonly StoreAction[])[] = [];
  readonly members: Store[] = [];
  private waiting = new Map<number, (i: number) => void>();
  private proposed: { actions: readonly StoreAction[]; resolve: (i: number) => void }[] = [];

  proposer(): Proposer {
    return { propose: (actions) => new Promise<number>((resolve) => this.proposed.push({ actions, resolve })) };
  }

  /** Commits the n-th pending proposal (0: oldest) at the next index and applies it everywhere. */
  commitPending(n = 0): number {
    const [p] = this.proposed.splice(n, 1);
    if (!p) throw new Error('nothing proposed');
    const index = this.entries.push(p.actions);
    for (const s of this.members) s.apply(index, p.actions);
    p.resolve(index);
    return index;
  }

  get pending(): number {
    return this.proposed.length;
  }
}

const node = (id: string, availability = 'active'): NodeObject =>
  ({
    ID: id,
    Version: { Index: 0 },
    CreatedAt: 0,
    UpdatedAt: 0,
    Spec: { Labels: {}, Role: 'worker', Availability: availability },
    Description: {
      Hostname: id,
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 1, MemoryBytes: 1 },
      Engine: { EngineVersion: '', Plugins: [] },
    },
    Status: { State: 'ready', Addr: '' },
  }) as unknown as NodeObject;

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function twoMembers(): { log: HandLog; a: Store; b: Store } {
  const log = new HandLog();
  const a = new Store(log.proposer(), new VirtualClock(1));
  const b = new Store(log.proposer(), new VirtualClock(1));
  log.members.push(a, b);
  return { log, a, b };
}

describe('store on several members', () => {
  it('a write queued across a leadership change cannot undo another write: refused at apply, on every member', async () => {
    const { log, a, b } = twoMembers();
    const created = a.update((tx) => tx.create('node', node('n1')));
    await flush();
    log.commitPending();
    await created;
    // a (the old leader) reads n1 and proposes a change, which does not commit yet...
    const stale = a.update((tx) => {
      const n = tx.get('node', 'n1')!;
      tx.update('node', { ...n, Spec: { ...n.Spec, Availability: 'drain' } });
    });
    await flush();
    // ...b (the new leader) changes n1 first; a's entry commits after it.
    const fresh = b.update((tx) => {
      const n = tx.get('node', 'n1')!;
      tx.update('node', { ...n, Spec: { ...n.Spec, Availability: 'pause' } });
    });
    await flush();
    log.commitPending(1);
    await fresh;
    log.commitPending(0);
    await assert.rejects(stale, /update out of sequence/);
    for (const s of [a, b]) assert.equal(s.view((tx) => tx.get('node', 'n1'))!.Spec.Availability, 'pause');
  });

  it('an update queued before a delete does not re-create the object', async () => {
    const { log, a, b } = twoMembers();
    const created = a.update((tx) => tx.create('node', node('n1')));
    await flush();
    log.commitPending();
    await created;
    const stale = a.update((tx) => {
      const n = tx.get('node', 'n1')!;
      tx.update('node', { ...n, Spec: { ...n.Spec, Availability: 'drain' } });
    });
    await flush();
    const del = b.update((tx) => tx.delete('node', 'n1'));
    await flush();
    log.commitPending(1);
    await del;
    log.commitPending(0);
    await assert.rejects(stale, /update out of sequence/);
    for (const s of [a, b])
      assert.equal(
        s.view((tx) => tx.get('node', 'n1')),
        undefined,
      );
  });

  it('a restore from a snapshot tells watchers what changed, then commits', async () => {
    const { log, a } = twoMembers();
    for (const id of ['keep', 'change', 'drop']) {
      const p = a.update((tx) => tx.create('node', node(id)));
      await flush();
      log.commitPending();
      await p;
    }
    const seen: StoreEvent[] = [];
    a.watch((ev) => seen.push(...ev));
    const objects = a.view((tx) => tx.all('node'));
    const keep = objects.find((o) => o.ID === 'keep')!;
    const change = objects.find((o) => o.ID === 'change')!;
    a.restore(10, [
      { table: 'node', object: keep },
      { table: 'node', object: { ...change, Version: { Index: 9 }, Spec: { ...change.Spec, Availability: 'drain' } } },
      { table: 'node', object: { ...node('new'), Version: { Index: 8 } } },
    ]);
    const summary = seen.map((e) => (e.kind === 'commit' ? `commit ${e.index}` : `${e.kind} ${e.object.ID}`));
    assert.deepEqual(summary.sort(), ['commit 10', 'create new', 'delete drop', 'update change'].sort());
    assert.equal(seen.at(-1)?.kind, 'commit');
  });
});
