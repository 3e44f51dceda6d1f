/**
 * What this host is in the swarm right now: out of it, locked (a manager waiting for its unlock
 * key), or in it with a running cluster runtime. Changes of that (init, join, leave, unlock, role
 * switches) run one at a time. While a runtime is active, the host's duties (certificate renewal,
 * autolock) run beside it; each duty starts with the runtime and is stopped before it closes.
 */
import type { Logger } from '../common/logging.js';
import type { NodeState } from './node-state.js';
import { closeRuntime, openRuntime, type ClusterRuntime, type RuntimeDeps } from './runtime.js';

/** Starts a duty for a runtime; returns how to stop it (awaited before the runtime closes). */
export type Duty = (rt: ClusterRuntime) => () => Promise<void>;

export class NodeHost {
  /** The active runtime, while this node is in a swarm and unlocked. */
  runtime: ClusterRuntime | undefined;
  /** A manager that restarted with autolock on, waiting for `swarm unlock`. */
  locked: NodeState | undefined;
  /** The unlock key's key-encryption key this manager's key material is wrapped with (autolock). */
  kek: Buffer | undefined;
  private readonly duties: Duty[] = [];
  private readonly running = new Map<ClusterRuntime, (() => Promise<void>)[]>();
  private transition: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: RuntimeDeps,
    readonly logger: Logger,
  ) {}

  get dataRoot(): string {
    return this.deps.dataRoot;
  }

  addDuty(d: Duty): void {
    this.duties.push(d);
  }

  inSwarm(): boolean {
    return Boolean(this.runtime || this.locked);
  }

  isManager(): boolean {
    return this.runtime?.state.role === 'manager' || Boolean(this.locked);
  }

  /** Opens a runtime for `state` without making it the active one. */
  open(state: NodeState, bootstrap: boolean, forceNewCluster = false): Promise<ClusterRuntime> {
    return openRuntime(this.deps, state, bootstrap, forceNewCluster);
  }

  /** Makes `rt` the active runtime: its agent and the host's duties start. */
  activate(rt: ClusterRuntime): void {
    this.runtime = rt;
    rt.agent.start();
    this.running.set(
      rt,
      this.duties.map((d) => d(rt)),
    );
  }

  /** Stops `rt`'s duties, then the runtime itself; it is no longer the active one. */
  async close(rt: ClusterRuntime): Promise<void> {
    if (this.runtime === rt) this.runtime = undefined;
    const stops = this.running.get(rt) ?? [];
    this.running.delete(rt);
    for (const stop of stops) await stop();
    await closeRuntime(rt, this.logger);
  }

  /** Runs membership changes of this node one at a time. */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.transition.then(fn, fn);
    this.transition = p.catch(() => undefined);
    return p;
  }
}
