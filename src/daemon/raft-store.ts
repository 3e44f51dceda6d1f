/**
 * The manager store behind Raft: the store's proposals become Raft entries, committed entries are
 * applied to the store, and the store's chunked snapshots are Raft's snapshots.
 */
import { ShoalError } from '../common/errors.js';
import type { RaftNode, StateMachine } from '../raft/node.js';
import { NotLeaderError, ProposalOutcomeUnknownError } from '../raft/types.js';
import type { StoreAction } from '../store/actions.js';
import type { Proposer } from '../store/proposer.js';
import { decodeSnapshot, encodeSnapshot } from '../store/persist/snapshot.js';
import type { Store } from '../store/store.js';

export const NO_LEADER =
  "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

const enc = new TextEncoder();
const dec = new TextDecoder();

export class StoreStateMachine implements StateMachine {
  constructor(private readonly store: () => Store) {}

  apply(index: number, data: Uint8Array): void {
    const { actions } = JSON.parse(dec.decode(data)) as { actions: StoreAction[] };
    this.store().apply(index, actions);
  }

  snapshot(): AsyncIterable<Uint8Array> {
    // Committed objects are replaced, never mutated: a list of references is a consistent cut.
    return encodeSnapshot([...this.store().dump()]);
  }

  async restore(index: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await this.store().restoreFrom(index, decodeSnapshot(chunks));
  }
}

export class RaftProposer implements Proposer {
  node: RaftNode | undefined;

  async propose(actions: readonly StoreAction[]): Promise<number> {
    if (!this.node) throw new ShoalError('unavailable', NO_LEADER);
    try {
      return await this.node.propose(enc.encode(JSON.stringify({ actions })));
    } catch (e) {
      if (e instanceof NotLeaderError) throw new ShoalError('unavailable', NO_LEADER);
      // Not a refusal: the change may still commit under the next leader (swarmkit's wording).
      if (e instanceof ProposalOutcomeUnknownError)
        throw new ShoalError('unknown', 'context deadline exceeded', { outcome: 'unknown', index: e.index });
      throw e;
    }
  }
}
