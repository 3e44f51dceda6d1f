/** What a write transaction records and a log entry carries: whole objects, created, updated or deleted. */
import type { ObjectTypes, Table } from './types.js';

export type StoreAction = {
  [T in Table]:
    | { readonly kind: 'create'; readonly table: T; readonly object: ObjectTypes[T]; readonly expect?: number }
    | { readonly kind: 'update'; readonly table: T; readonly object: ObjectTypes[T]; readonly expect?: number }
    | { readonly kind: 'delete'; readonly table: T; readonly object: ObjectTypes[T]; readonly expect?: number };
}[Table];

/*
 * `expect` is the object's Version.Index when the writer read it (0: it did not exist), on the first
 * action of a transaction that touches the object. Every member checks it when applying the entry,
 * so a write proposed against a state that changed before it committed (a proposal queued across a
 * leadership change) is refused identically everywhere instead of undoing the other write.
 * Entries written before this field existed carry none and are not checked.
 */

/** A store change as watchers see it, after it was committed. */
export type StoreEvent =
  | {
      readonly kind: 'create' | 'update' | 'delete';
      readonly table: Table;
      readonly object: ObjectTypes[Table];
      readonly index: number;
    }
  | { readonly kind: 'commit'; readonly index: number };
