/**
 * The store's only way to make a change durable: hand the actions to a replicated log. The log calls
 * back `apply` for every committed entry (its own or another leader's), in index order; `propose`
 * resolves once the entry has been applied. Raft sits behind this interface (src/daemon/raft-store.ts);
 * so does the in-memory proposer of unit tests.
 */
import type { StoreAction } from './actions.js';

export interface Proposer {
  propose(actions: readonly StoreAction[]): Promise<number>;
}

export type ApplyFn = (index: number, actions: readonly StoreAction[]) => void;

/** Commits at once, in memory: for unit tests of leader components. */
export class MemoryProposer implements Proposer {
  private index = 0;
  private applyFn: ApplyFn | undefined;

  bind(apply: ApplyFn): void {
    this.applyFn = apply;
  }

  async propose(actions: readonly StoreAction[]): Promise<number> {
    if (!this.applyFn) throw new Error('proposer not bound to a store');
    this.index++;
    this.applyFn(this.index, actions);
    return this.index;
  }

  get lastIndex(): number {
    return this.index;
  }
}
