/** What a write transaction records and a log entry carries: whole objects, created, updated or deleted. */
import type { ObjectTypes, Table } from './types.js';

export type StoreAction = {
  [T in Table]:
    | { readonly kind: 'create'; readonly table: T; readonly object: ObjectTypes[T] }
    | { readonly kind: 'update'; readonly table: T; readonly object: ObjectTypes[T] }
    | { readonly kind: 'delete'; readonly table: T; readonly object: ObjectTypes[T] };
}[Table];

/** A store change as watchers see it, after it was committed. */
export type StoreEvent =
  | {
      readonly kind: 'create' | 'update' | 'delete';
      readonly table: Table;
      readonly object: ObjectTypes[Table];
      readonly index: number;
    }
  | { readonly kind: 'commit'; readonly index: number };
