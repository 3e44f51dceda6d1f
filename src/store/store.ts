/**
 * The cluster state: typed tables in memory, changed only by applying committed log entries.
 * Writers run one at a time in `update`: they read the current state plus their own changes, record
 * actions, and the actions become one proposal. Watchers get per-object events plus a commit marker.
 */
import type { Clock } from '../common/clock.js';
import { ShoalError } from '../common/errors.js';
import type { StoreAction, StoreEvent } from './actions.js';
import type { Proposer } from './proposer.js';
import { TABLES, type AnyObject, type ObjectTypes, type Table } from './types.js';

export interface ReadTx {
  get<T extends Table>(table: T, id: string): ObjectTypes[T] | undefined;
  all<T extends Table>(table: T): ObjectTypes[T][];
  find<T extends Table>(table: T, pred: (o: ObjectTypes[T]) => boolean): ObjectTypes[T][];
}

export interface WriteTx extends ReadTx {
  /** Time stamped into the proposal by the writer (leader), so every manager applies the same values. */
  readonly now: number;
  create<T extends Table>(table: T, object: ObjectTypes[T]): void;
  /** Fails with "update out of sequence" when the object changed since `object` was read. */
  update<T extends Table>(table: T, object: ObjectTypes[T]): void;
  delete<T extends Table>(table: T, id: string): void;
}

type Tables = { [T in Table]: Map<string, ObjectTypes[T]> };

function emptyTables(): Tables {
  return {
    cluster: new Map(),
    node: new Map(),
    service: new Map(),
    task: new Map(),
    network: new Map(),
    secret: new Map(),
    config: new Map(),
  };
}

/** Deep copy, so nobody mutates committed state through a reference. */
export function clone<T>(o: T): T {
  return structuredClone(o);
}

export type Watcher = (events: readonly StoreEvent[]) => void;

export class Store {
  private tables: Tables = emptyTables();
  private lastIndex = 0;
  private watchers = new Set<Watcher>();
  private writeQueue: Promise<unknown> = Promise.resolve();
  /** Entries refused at apply because an expected version no longer held, for their writer to see. */
  private refused = new Map<number, string>();

  constructor(
    private readonly proposer: Proposer,
    private readonly clock: Clock,
  ) {}

  get index(): number {
    return this.lastIndex;
  }

  /** A consistent read of the current state. Objects are shared: do not mutate them. */
  view<R>(fn: (tx: ReadTx) => R): R {
    return fn(this.reader(this.tables));
  }

  /**
   * Runs one write transaction. fn may throw to abort (nothing is proposed). Resolves with fn's result
   * after the change is committed and applied. An empty transaction proposes nothing.
   */
  update<R>(fn: (tx: WriteTx) => R): Promise<R> {
    const run = async (): Promise<R> => {
      const actions: StoreAction[] = [];
      const overlay = new Map<string, AnyObject | null>();
      const key = (t: Table, id: string): string => `${t}/${id}`;
      const base = this.reader(this.tables);
      const getCur = <T extends Table>(table: T, id: string): ObjectTypes[T] | undefined => {
        const k = key(table, id);
        if (overlay.has(k)) return (overlay.get(k) ?? undefined) as ObjectTypes[T] | undefined;
        return base.get(table, id);
      };
      const allCur = <T extends Table>(table: T): ObjectTypes[T][] => {
        const out = new Map<string, ObjectTypes[T]>();
        for (const o of this.tables[table].values()) out.set(o.ID, o as ObjectTypes[T]);
        for (const [k, v] of overlay) {
          const [t, id] = k.split('/') as [Table, string];
          if (t !== table) continue;
          if (v === null) out.delete(id);
          else out.set(id, v as ObjectTypes[T]);
        }
        return [...out.values()];
      };
      const now = this.clock.now();
      // The first action on an object carries the committed version it was read at.
      const touched = new Set<string>();
      const expect = (table: Table, id: string): { expect?: number } => {
        const k = key(table, id);
        if (touched.has(k)) return {};
        touched.add(k);
        return { expect: base.get(table, id)?.Version.Index ?? 0 };
      };
      const tx: WriteTx = {
        now,
        get: getCur,
        all: allCur,
        find: (table, pred) => allCur(table).filter(pred),
        create: (table, object) => {
          if (getCur(table, object.ID)) throw new ShoalError('already_exists', `${table} ${object.ID} already exists`);
          const o = clone(object);
          o.CreatedAt = now;
          o.UpdatedAt = now;
          o.Version = { Index: 0 };
          const ex = expect(table, o.ID);
          overlay.set(key(table, o.ID), o);
          actions.push({ kind: 'create', table, object: o, ...ex } as StoreAction);
        },
        update: (table, object) => {
          const cur = getCur(table, object.ID);
          if (!cur) throw new ShoalError('not_found', `${table} ${object.ID} not found`);
          if (cur.Version.Index !== object.Version.Index) throw new ShoalError('unknown', 'update out of sequence');
          const o = clone(object);
          o.UpdatedAt = now;
          const ex = expect(table, o.ID);
          overlay.set(key(table, o.ID), o);
          // Within one transaction later updates replace earlier ones of the same object.
          const prior = actions.findIndex((a) => a.table === table && a.object.ID === o.ID && a.kind !== 'delete');
          if (prior >= 0) {
            const p = actions[prior]!;
            actions[prior] = {
              kind: p.kind,
              table,
              object: o,
              ...(p.expect !== undefined ? { expect: p.expect } : {}),
            } as StoreAction;
          } else actions.push({ kind: 'update', table, object: o, ...ex } as StoreAction);
        },
        delete: (table, id) => {
          const cur = getCur(table, id);
          if (!cur) throw new ShoalError('not_found', `${table} ${id} not found`);
          const ex = expect(table, id);
          overlay.set(key(table, id), null);
          actions.push({ kind: 'delete', table, object: cur, ...ex } as StoreAction);
        },
      };
      const result = fn(tx);
      if (actions.length > 0) {
        const index = await this.proposer.propose(actions);
        const why = this.refused.get(index);
        if (why !== undefined) {
          this.refused.delete(index);
          throw new ShoalError('unknown', 'update out of sequence', { index, reason: why });
        }
      }
      return result;
    };
    const p = this.writeQueue.then(run, run);
    this.writeQueue = p.catch(() => undefined);
    return p;
  }

  /** The apply path: the only place committed state changes. Called by the log, in index order. */
  apply(index: number, actions: readonly StoreAction[]): void {
    if (index <= this.lastIndex) return; // replayed entry already applied
    const events: StoreEvent[] = [];
    const stale = this.staleExpectation(actions);
    if (stale !== undefined) {
      // Refused the same way on every member: the entry applies as nothing.
      this.refused.set(index, stale);
      for (const i of this.refused.keys()) if (i < index - 10_000) this.refused.delete(i);
      this.lastIndex = index;
      this.publish([{ kind: 'commit', index }]);
      return;
    }
    for (const a of actions) {
      const map = this.tables[a.table] as Map<string, AnyObject>;
      if (a.kind === 'delete') {
        map.delete(a.object.ID);
        events.push({ kind: 'delete', table: a.table, object: a.object, index });
        continue;
      }
      const o = clone(a.object);
      o.Version = { Index: index };
      map.set(o.ID, o);
      events.push({ kind: a.kind, table: a.table, object: o, index });
    }
    this.lastIndex = index;
    events.push({ kind: 'commit', index });
    this.publish(events);
  }

  /** Why an action's expected version does not hold in the committed state, if one does not. */
  private staleExpectation(actions: readonly StoreAction[]): string | undefined {
    for (const a of actions) {
      if (a.expect === undefined) continue;
      const cur = (this.tables[a.table] as Map<string, AnyObject>).get(a.object.ID);
      const have = cur?.Version.Index ?? 0;
      if (have !== a.expect) return `${a.table} ${a.object.ID} is at version ${have}, the write expected ${a.expect}`;
    }
    return undefined;
  }

  private publish(events: readonly StoreEvent[]): void {
    for (const w of this.watchers) {
      try {
        w(events);
      } catch {
        // A failing watcher must not break the apply path of the others.
      }
    }
  }

  /** Subscribe to committed changes; returns an unsubscribe function. */
  watch(w: Watcher): () => void {
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** Every object, for snapshots; yields table by table. */
  *dump(): Generator<{ table: Table; object: AnyObject }> {
    for (const t of TABLES) for (const o of this.tables[t].values()) yield { table: t, object: o };
  }

  /** Replaces the whole state (restore from a snapshot). */
  restore(index: number, objects: Iterable<{ table: Table; object: AnyObject }>): void {
    const tables = emptyTables();
    for (const { table, object } of objects) (tables[table] as Map<string, AnyObject>).set(object.ID, object);
    this.swapIn(index, tables);
  }

  /** The same, from batches arriving over time: the new state is built aside and swapped in at once. */
  async restoreFrom(
    index: number,
    batches: AsyncIterable<readonly { table: Table; object: AnyObject }[]>,
  ): Promise<void> {
    const tables = emptyTables();
    for await (const batch of batches)
      for (const { table, object } of batch) (tables[table] as Map<string, AnyObject>).set(object.ID, object);
    this.swapIn(index, tables);
  }

  /**
   * Installs restored tables and tells watchers what changed, as ordinary events plus a commit
   * marker, so they reconcile with what a snapshot brought (the same as if the entries had been
   * applied one by one). An object whose Version.Index is unchanged is the same object.
   */
  private swapIn(index: number, tables: Tables): void {
    const old = this.tables;
    this.tables = tables;
    this.lastIndex = index;
    const events: StoreEvent[] = [];
    for (const t of TABLES) {
      const before = old[t] as Map<string, AnyObject>;
      const after = tables[t] as Map<string, AnyObject>;
      for (const [id, o] of after) {
        const prev = before.get(id);
        if (!prev) events.push({ kind: 'create', table: t, object: o, index });
        else if (prev.Version.Index !== o.Version.Index) events.push({ kind: 'update', table: t, object: o, index });
      }
      for (const [id, o] of before) if (!after.has(id)) events.push({ kind: 'delete', table: t, object: o, index });
    }
    events.push({ kind: 'commit', index });
    this.publish(events);
  }

  private reader(tables: Tables): ReadTx {
    return {
      get: (table, id) => tables[table].get(id),
      all: (table) => [...tables[table].values()],
      find: (table, pred) => [...tables[table].values()].filter(pred),
    };
  }
}
