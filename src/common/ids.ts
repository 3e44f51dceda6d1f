import type { Random } from './random.js';

declare const brand: unique symbol;
/** A nominal string type: a NodeId cannot be passed where a TaskId is expected. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type NodeId = Brand<string, 'NodeId'>;
export type ServiceId = Brand<string, 'ServiceId'>;
export type TaskId = Brand<string, 'TaskId'>;
export type ClusterId = Brand<string, 'ClusterId'>;

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A 25-character lowercase base36 id of about 128 random bits, as swarmkit makes them. */
export function newId<T extends string = string>(random: Random): T {
  const bytes = random.bytes(16);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let s = '';
  for (let i = 0; i < 25; i++) {
    s = ALPHABET[Number(n % 36n)] + s;
    n /= 36n;
  }
  return s as T;
}

/** The 12-character form tables show. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}
