/**
 * Autolock on a manager: its key material (the TLS key and Raft's data-encryption key) is wrapped
 * with the swarm's unlock key while autolock is on. Every manager follows the cluster object and
 * rewraps when the key changes; a manager restarted locked waits for `swarm unlock`. When autolock
 * comes on, the DEK that was on disk in the clear is replaced: Raft rewrites its data under a new one
 * (as swarmkit rotates the DEK on unlocked → locked; a change of unlock key only rewraps).
 */
import { ShoalError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import { parseUnlockKey } from '../manager/ca/unlock-key.js';
import type { NodeHost } from './host.js';
import { applyKek, INVALID_UNLOCK_KEY, loadDek, promotePending, sameKek } from './key-wrap.js';
import type { ClusterRuntime } from './runtime.js';

export class Autolock {
  private work: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: NodeHost,
    private readonly logger: Logger,
  ) {}

  /** The duty: on a manager, rewrap the key material whenever the cluster's unlock key changes. */
  readonly duty = (rt: ClusterRuntime): (() => Promise<void>) => {
    const store = rt.mgr?.store;
    if (!store) return async () => undefined;
    const unwatch = store.watch((events) => {
      if (events.some((e) => e.kind !== 'commit' && e.table === 'cluster')) this.follow(rt);
    });
    this.follow(rt);
    return async () => unwatch();
  };

  /** Resolves once no rewrap is under way (before the key material is wiped). */
  settled(): Promise<void> {
    return this.work;
  }

  /** `swarm unlock`: the unlock key opens this manager's key material, and it starts. */
  unlock(key: string): Promise<void> {
    return this.host.serialize(async () => {
      const state = this.host.locked;
      if (!state) throw new ShoalError('conflict', 'swarm is not locked');
      const kek = parseUnlockKey(key);
      if (!kek) throw new ShoalError('invalid_argument', INVALID_UNLOCK_KEY);
      await loadDek(this.host.dataRoot, kek); // throws on a wrong key
      this.host.kek = kek;
      const rt = await this.host.open(state, false);
      this.host.locked = undefined;
      this.host.activate(rt);
      this.logger.info('unlocked', { node: state.nodeId });
    });
  }

  private follow(rt: ClusterRuntime): void {
    const cluster = rt.mgr?.store.view((tx) => tx.all('cluster')[0]);
    if (!cluster) return;
    const want = cluster.UnlockKey ? parseUnlockKey(cluster.UnlockKey) : undefined;
    this.work = this.work.then(async () => {
      if (this.host.runtime !== rt) return;
      try {
        // Checked against what is on disk, not only against the last KEK: a crash between the writes
        // of an earlier run is finished here.
        let pending = await applyKek(this.host.dataRoot, this.host.kek, want);
        if (!sameKek(want, this.host.kek))
          this.logger.info(
            want ? 'autolock: key material wrapped with the unlock key' : 'autolock off: key material stored unwrapped',
          );
        this.host.kek = want;
        while (pending && rt.mgr && this.host.runtime === rt) {
          await rt.mgr.raft.rotateDataKey(pending);
          pending = await promotePending(this.host.dataRoot, this.host.kek, pending);
          this.logger.info('autolock: Raft data rewritten under a new data-encryption key; the old key is gone');
        }
      } catch (e) {
        this.logger.warn('rewrapping key material failed', { error: errorMessage(e) });
      }
    });
  }
}
