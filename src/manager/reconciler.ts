/**
 * The shape every leader component shares: watch the store, and on relevant commits run one
 * reconcile pass (debounced, never two at once). Time comes from the injected Clock.
 */
import type { Clock } from '../common/clock.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import type { StoreEvent } from '../store/actions.js';
import type { Store } from '../store/store.js';

export abstract class Reconciler {
  private unwatch: (() => void) | undefined;
  private cancelTimer: (() => void) | undefined;
  private running = false;
  private again = false;
  private stopped = true;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    protected readonly store: Store,
    protected readonly clock: Clock,
    protected readonly logger: Logger,
    private readonly debounceMs: number,
  ) {}

  run(): void {
    this.stopped = false;
    this.unwatch = this.store.watch((events) => {
      if (events.some((e) => e.kind !== 'commit' && this.interested(e.table, e))) this.kick();
    });
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    this.cancelTimer?.();
  }

  /** Schedules a pass soon (coalescing requests). */
  kick(delayMs = this.debounceMs): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.cancelTimer) return;
    this.cancelTimer = this.clock.setTimer(delayMs, () => {
      this.cancelTimer = undefined;
      void this.pass();
    });
  }

  /** Resolves once no pass is running or scheduled (for tests). */
  idle(): Promise<void> {
    if (!this.running && !this.cancelTimer) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    this.running = true;
    this.again = false;
    let failed = false;
    try {
      await this.reconcile();
    } catch (e) {
      this.logger.warn(`${this.name} pass failed`, { error: errorMessage(e) });
      failed = true;
    } finally {
      this.running = false;
    }
    if (failed) this.kick(500);
    else if (this.again) this.kick();
    else if (!this.cancelTimer) for (const w of this.idleWaiters.splice(0)) w();
  }

  protected interested(_table: string, _event: StoreEvent): boolean {
    return true;
  }

  protected abstract reconcile(): Promise<void>;
}
