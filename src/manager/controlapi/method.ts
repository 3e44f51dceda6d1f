/**
 * One control-API method: whether it only reads (a follower forwards it and the leader answers after
 * a ReadIndex) and what it runs on the leader. Every method is declared once, in a resource file
 * (cluster, node, service, task); the method table, forwarding and local calls derive from that.
 */
import type { ControlContext } from './context.js';

export interface Method<A extends unknown[], R> {
  readonly read: boolean;
  readonly run: (ctx: ControlContext, ...args: A) => R | Promise<R>;
}

export function read<A extends unknown[], R>(run: (ctx: ControlContext, ...args: A) => R | Promise<R>): Method<A, R> {
  return { read: true, run };
}

export function write<A extends unknown[], R>(run: (ctx: ControlContext, ...args: A) => R | Promise<R>): Method<A, R> {
  return { read: false, run };
}
