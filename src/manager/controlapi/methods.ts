/**
 * The method table of the control API: every cluster-level call a manager serves from the store,
 * by name. A follower forwards a call to the leader as it is (swarmkit's raft proxy), so validation
 * and `?version=` checks run on the leader against its current state; the leader runs the same
 * table locally. Adding a resource is one file of methods and one line here.
 */
import type { ControlContext } from './context.js';
import { clusterMethods } from './cluster.js';
import { configMethods } from './config.js';
import type { Method } from './method.js';
import { networkMethods } from './network.js';
import { networkAttachmentMethods } from './network-attachment.js';
import { nodeMethods } from './node.js';
import { secretMethods } from './secret.js';
import { serviceMethods } from './service.js';
import { taskMethods } from './task.js';

export const controlMethods = {
  ...clusterMethods,
  ...nodeMethods,
  ...serviceMethods,
  ...taskMethods,
  ...networkMethods,
  ...networkAttachmentMethods,
  ...secretMethods,
  ...configMethods,
};

type Table = typeof controlMethods;
export type MethodName = keyof Table;
export type Args<K extends MethodName> = Table[K] extends Method<infer A, unknown> ? A : never;
export type Result<K extends MethodName> = Table[K] extends Method<never, infer R> ? R : never;

/** The control API as its clients see it: every method, asynchronous, wherever it runs. */
export type ClusterApi = { readonly [K in MethodName]: (...args: Args<K>) => Promise<Result<K>> };

/** Runs a call by name. */
export type Invoke = <K extends MethodName>(method: K, args: Args<K>) => Promise<Result<K>>;

export function isMethodName(m: unknown): m is MethodName {
  return typeof m === 'string' && Object.prototype.hasOwnProperty.call(controlMethods, m);
}

export function isRead(m: MethodName): boolean {
  return controlMethods[m].read;
}

/** Runs a method here, against this manager's store (the leader's, or a test's). */
export function runMethod<K extends MethodName>(ctx: ControlContext, m: K, args: Args<K>): Promise<Result<K>> {
  const run = controlMethods[m].run as unknown as (
    ctx: ControlContext,
    ...a: Args<K>
  ) => Result<K> | Promise<Result<K>>;
  return Promise.resolve().then(() => run(ctx, ...args));
}

/** The typed API over any way of running a call (locally, or forwarded to the leader). */
export function clusterApi(invoke: Invoke): ClusterApi {
  const api: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const m of Object.keys(controlMethods) as MethodName[]) api[m] = (...args) => invoke(m, args as Args<typeof m>);
  return api as unknown as ClusterApi;
}

/** The API run directly against a store (the leader's own components, tests). */
export function localClusterApi(ctx: ControlContext): ClusterApi {
  return clusterApi((m, args) => runMethod(ctx, m, args));
}
