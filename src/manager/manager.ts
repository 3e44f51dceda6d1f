/**
 * The manager role of a node: on becoming leader it starts every leader-only component (like
 * swarmkit's becomeLeader) and stops them when leadership is lost. Each component takes only the
 * store, a clock, randomness and a logger.
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logging.js';
import type { Random } from '../common/random.js';
import type { Store } from '../store/store.js';
import { Allocator } from './allocator/allocator.js';
import { RootRotationReconciler } from './ca/rotation.js';
import type { LogSource } from './controlapi/api.js';
import { noLeaderHooks, type ControlContext, type LeaderHooks } from './controlapi/context.js';
import { localClusterApi, type ClusterApi } from './controlapi/methods.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
import { Orchestrator } from './orchestrator/orchestrator.js';
import { Scheduler } from './scheduler/scheduler.js';
import { TaskReaper } from './taskreaper/taskreaper.js';

export interface ManagerOptions {
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  logSource: LogSource;
  /** What the Raft leader adds (reachability) and checks (quorum on demote); none in tests. */
  leader?: LeaderHooks;
  /** Told how late each agent heartbeat came, in seconds (monitoring). */
  heartbeatLateness?: (seconds: number) => void;
  /** Told each task's delay from creation to assignment, in seconds (monitoring). */
  schedulingDelay?: (seconds: number) => void;
}

export class Manager {
  /** The control API's context, and the API run directly against this manager's store. */
  readonly controlContext: ControlContext;
  readonly control: ClusterApi;
  readonly dispatcher: Dispatcher;
  readonly rotation: RootRotationReconciler;
  private readonly components: { run(): void; stop(): void }[];
  private leading = false;

  constructor(o: ManagerOptions) {
    this.controlContext = {
      store: o.store,
      random: o.random,
      logSource: o.logSource,
      leader: o.leader ?? noLeaderHooks,
    };
    this.control = localClusterApi(this.controlContext);
    this.dispatcher = new Dispatcher(o.store, o.clock, o.random, o.logger.child('dispatcher'), o.heartbeatLateness);
    this.rotation = new RootRotationReconciler(o.store, o.clock, o.random, o.logger.child('ca'));
    this.components = [
      this.dispatcher,
      new Allocator(o.store, o.clock, o.logger.child('allocator')),
      new Scheduler(o.store, o.clock, o.logger.child('scheduler'), o.schedulingDelay),
      new Orchestrator(o.store, o.clock, o.random, o.logger.child('orchestrator')),
      new TaskReaper(o.store, o.clock, o.logger.child('taskreaper')),
      this.rotation,
    ];
  }

  get isLeader(): boolean {
    return this.leading;
  }

  becomeLeader(): void {
    if (this.leading) return;
    this.leading = true;
    for (const c of this.components) c.run();
  }

  loseLeadership(): void {
    if (!this.leading) return;
    this.leading = false;
    for (const c of [...this.components].reverse()) c.stop();
  }
}
