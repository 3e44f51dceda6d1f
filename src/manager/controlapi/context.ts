/**
 * What every control-API method runs against: the leader's store, randomness for new IDs and
 * tokens, where task logs come from, and what only the Raft leader knows about managers.
 */
import type { Random } from '../../common/random.js';
import type { Store } from '../../store/store.js';
import type { NodeObject } from '../../store/types.js';
import type { LogSource } from './api.js';
import { asRpcError } from './rpc-errors.js';

/** What the Raft leader adds to node answers and checks before membership-changing writes. */
export interface LeaderHooks {
  /** Leader/reachability of a manager, as the leader's Raft progress shows it. */
  decorate(node: NodeObject): NodeObject;
  /** Refuses demoting a voter when that would cost the group its quorum. */
  checkDemote(node: NodeObject): void;
}

/** Outside a Raft group (unit tests, a harness) nothing is added and nothing refused. */
export const noLeaderHooks: LeaderHooks = { decorate: (n) => n, checkDemote: () => undefined };

export interface ControlContext {
  readonly store: Store;
  readonly random: Random;
  readonly logSource: LogSource;
  readonly leader: LeaderHooks;
}

/** A store write whose refusals reach the client in swarmkit's `rpc error: ...` shape. */
export async function storeWrite(ctx: ControlContext, fn: Parameters<Store['update']>[0]): Promise<void> {
  try {
    await ctx.store.update(fn);
  } catch (e) {
    throw asRpcError(e);
  }
}
