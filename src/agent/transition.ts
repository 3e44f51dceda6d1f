/**
 * The agent's pure decision: given a task (desired state, last reported state) and what the engine
 * shows of its container, the single next step to take. Like swarmkit's controller, a task moves
 * exactly one state forward per step, so every intermediate state is reported.
 */
import { isTerminal, stateRank, type TaskObject, type TaskState } from '../store/types.js';

export type ContainerView =
  | { readonly kind: 'missing' }
  | {
      readonly kind: 'present';
      readonly id: string;
      readonly running: boolean;
      readonly exited: boolean;
      readonly exitCode: number;
      readonly pid: number;
      readonly health: 'none' | 'starting' | 'healthy' | 'unhealthy';
      readonly error: string;
    };

export type Step =
  | { readonly kind: 'report'; readonly state: TaskState; readonly message: string; readonly err?: string }
  | { readonly kind: 'prepare' } // ensure image (-> preparing already reported), then create container
  | { readonly kind: 'start' }
  /** Stop the container; `after` is reported once it stopped (e.g. failed as unhealthy). */
  | { readonly kind: 'stop'; readonly after?: Extract<Step, { kind: 'report' }> }
  | { readonly kind: 'wait' }; // nothing to do until something changes

const atLeast = (s: TaskState, o: TaskState): boolean => stateRank(s) >= stateRank(o);

export function nextStep(task: TaskObject, reported: TaskState, container: ContainerView): Step {
  const desired = task.DesiredState;
  const stopWanted = atLeast(desired, 'shutdown');

  if (isTerminal(reported)) {
    // Ended tasks keep their stopped container for history; a still-running one is stopped.
    if (container.kind === 'present' && container.running) return { kind: 'stop' };
    return { kind: 'wait' };
  }
  if (stopWanted) {
    if (container.kind === 'present' && container.running) return { kind: 'stop' };
    return { kind: 'report', state: 'shutdown', message: 'shutdown' };
  }
  switch (reported) {
    case 'new':
    case 'pending':
    case 'assigned':
      return { kind: 'report', state: 'accepted', message: 'accepted' };
    case 'accepted':
      return { kind: 'report', state: 'preparing', message: 'preparing' };
    case 'preparing':
      return container.kind === 'present'
        ? { kind: 'report', state: 'ready', message: 'prepared' }
        : { kind: 'prepare' };
    case 'ready':
      if (container.kind === 'missing')
        return { kind: 'report', state: 'rejected', message: 'preparing', err: 'container removed before start' };
      // `complete` is a job task's desired state: run it to completion.
      if (desired !== 'running' && desired !== 'complete') return { kind: 'wait' };
      return { kind: 'report', state: 'starting', message: 'starting' };
    case 'starting':
      if (container.kind === 'missing') return failed('No such container');
      if (!container.running && !container.exited) return { kind: 'start' };
      if (container.exited) return ended(container.exitCode);
      if (container.health === 'unhealthy') return { kind: 'stop', after: failed('unhealthy container') };
      if (container.health === 'starting') return { kind: 'wait' };
      return { kind: 'report', state: 'running', message: 'started' };
    case 'running':
      if (container.kind === 'missing') return failed('No such container');
      if (container.exited) return ended(container.exitCode);
      if (container.health === 'unhealthy') return { kind: 'stop', after: failed('unhealthy container') };
      return { kind: 'wait' };
    default:
      return { kind: 'wait' };
  }
}

function failed(err: string): Extract<Step, { kind: 'report' }> {
  return { kind: 'report', state: 'failed', message: 'started', err };
}

/** Exit 0 completes the task; anything else fails it with Docker's wording. */
function ended(exitCode: number): Step {
  if (exitCode === 0) return { kind: 'report', state: 'complete', message: 'finished' };
  return failed(`task: non-zero exit (${exitCode})`);
}
