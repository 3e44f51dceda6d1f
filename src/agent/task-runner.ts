/**
 * Drives one assigned task on this node: observe the container, take the next step, report the new
 * state, repeat; sleep when there is nothing to do until an assignment or container event wakes it.
 */
import { errorMessage, ShoalError } from '../common/errors.js';
import type { Logger } from '../common/logging.js';
import type { TaskObject, TaskState, TaskStatus } from '../store/types.js';
import type { ContainerObservation, Executor } from './executor/executor.js';
import type { AgentInstruments } from './instruments.js';
import type { Semaphore } from './semaphore.js';
import { nextStep, type ContainerView, type Step } from './transition.js';

const RESYNC_MS = 10_000;

export class TaskRunner {
  private reported: TaskStatus;
  private wakeUp: (() => void) | undefined;
  private disposed = false;
  /** Set by wake(); a wake-up that arrives mid-step must not be lost. */
  private dirty = false;
  private done: Promise<void>;

  constructor(
    private task: TaskObject,
    private readonly executor: Executor,
    private readonly report: (taskId: string, status: TaskStatus) => void,
    private readonly limit: Semaphore,
    private readonly logger: Logger,
    private readonly now: () => number,
    /** Makes the task's networks exist here; returns the task to create (with its resolver filled). */
    private readonly prepareNetworks?: (task: TaskObject) => Promise<TaskObject>,
    private readonly instruments?: AgentInstruments,
  ) {
    this.reported = task.Status;
    this.done = this.loop();
  }

  get id(): string {
    return this.task.ID;
  }

  /** A new version of the task arrived (desired state may have changed). */
  update(task: TaskObject): void {
    this.task = task;
    // The manager's state can be ahead of ours only through our own reports; never move back.
    this.wake();
  }

  wake(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  /** Stops driving the task but leaves its container alone (agent shutdown). */
  async halt(): Promise<void> {
    this.disposed = true;
    this.wake();
    await this.done;
  }

  /** The task left this node's assignments: stop and remove its container. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.wake();
    await this.done;
    const c = await this.observe();
    if (c.kind === 'present') {
      await this.limit.run(async () => {
        await this.executor.stop(c.id, this.graceMs());
        await this.executor.remove(c.id);
      });
    }
  }

  private graceMs(): number {
    const ns = this.task.Spec.ContainerSpec?.StopGracePeriod;
    return ns === undefined ? 10_000 : Math.floor(ns / 1e6);
  }

  private async observe(): Promise<ContainerView> {
    let o: ContainerObservation;
    try {
      o = await this.executor.inspect(this.task.ID);
    } catch (e) {
      this.logger.warn('inspect failed', { task: this.task.ID, error: errorMessage(e) });
      return { kind: 'missing' };
    }
    if (o.state === 'missing') return { kind: 'missing' };
    return {
      kind: 'present',
      id: o.id,
      running: o.state === 'running' || o.state === 'restarting' || o.state === 'paused',
      exited: o.state === 'exited' || o.state === 'dead',
      exitCode: o.exitCode,
      pid: o.pid,
      health: o.health,
      error: o.error,
    };
  }

  private setStatus(state: TaskState, message: string, err: string | undefined, c: ContainerView): void {
    if ((state === 'failed' || state === 'rejected') && this.reported.State !== state)
      this.instruments?.taskFailed?.(state);
    const status: TaskStatus = { Timestamp: this.now(), State: state, Message: message };
    if (err) status.Err = err;
    if (c.kind === 'present')
      status.ContainerStatus = { ContainerID: c.id, PID: c.running ? c.pid : 0, ExitCode: c.exitCode };
    if (this.task.Endpoint?.Ports?.some((p) => p.PublishMode === 'host')) {
      status.PortStatus = { Ports: this.task.Endpoint.Ports.filter((p) => p.PublishMode === 'host') };
    }
    this.reported = status;
    this.report(this.task.ID, status);
  }

  private async loop(): Promise<void> {
    let known: ContainerView | undefined;
    while (!this.disposed) {
      this.dirty = false;
      let step: Step;
      const c = known ?? (await this.observe());
      known = undefined;
      try {
        step = nextStep(this.task, this.reported.State, c);
        await this.execute(step, c);
      } catch (e) {
        this.fail(e, c);
        continue;
      }
      // A report changes nothing in the engine, so what we saw still holds unless something woke us:
      // a new task goes from assigned to starting without asking the engine between its reports.
      if (step.kind === 'report' && !this.dirty) known = c;
      if (step.kind === 'wait') await this.sleep(RESYNC_MS);
    }
  }

  private async execute(step: Step, c: ContainerView): Promise<void> {
    switch (step.kind) {
      case 'report':
        this.setStatus(step.state, step.message, step.err, c);
        return;
      case 'prepare': {
        const image = this.task.Spec.ContainerSpec?.Image ?? '';
        await this.limit.run(async () => {
          await this.executor.ensureImage(image);
          await this.executor.create(this.prepareNetworks ? await this.prepareNetworks(this.task) : this.task);
        });
        return;
      }
      case 'start':
        if (c.kind === 'present') {
          const id = c.id;
          await this.limit.run(async () => {
            const t0 = performance.now();
            await this.executor.start(id);
            this.instruments?.containerStarted?.((performance.now() - t0) / 1000);
          });
        }
        return;
      case 'stop':
        if (c.kind === 'present') await this.limit.run(() => this.executor.stop(c.id, this.graceMs()));
        if (step.after) this.setStatus(step.after.state, step.after.message, step.after.err, await this.observe());
        return;
      case 'wait':
        return;
    }
  }

  /** An engine error before the container started rejects the task; after, it fails it. */
  private fail(e: unknown, c: ContainerView): void {
    const started = ['starting', 'running'].includes(this.reported.State);
    const msg = e instanceof ShoalError || e instanceof Error ? e.message : errorMessage(e);
    this.logger.warn('task step failed', { task: this.task.ID, state: this.reported.State, error: msg });
    if (!['running', 'ready', 'complete'].includes(this.task.DesiredState)) {
      this.setStatus('shutdown', 'shutdown', undefined, c);
      return;
    }
    this.setStatus(started ? 'failed' : 'rejected', started ? 'started' : this.reported.Message || 'preparing', msg, c);
  }

  private sleep(ms: number): Promise<void> {
    if (this.dirty || this.disposed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }
}
