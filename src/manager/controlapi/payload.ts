/**
 * What secrets and configs share: their names, their data limits, label-only updates and the
 * in-use check before removal, worded as swarmkit words them. secret.ts and config.ts declare the
 * methods; this file holds the rules once.
 */
import { ShoalError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import type { Store } from '../../store/store.js';
import type { Labels, ObjectTypes, SecretObject, SecretSpec, ServiceObject } from '../../store/types.js';
import { storeWrite, type ControlContext } from './context.js';
import { resolveRef } from './resolve.js';
import { rpcError } from './rpc-errors.js';

export type PayloadKind = 'secret' | 'config';

/** swarmkit's MaxSecretSize (500 KiB) and MaxConfigSize (1000 KiB); the data must stay below. */
export const MAX_SIZE: Record<PayloadKind, number> = { secret: 500 * 1024, config: 1000 * 1024 };

/** What `POST /secrets/create` and `/configs/create` carry (Engine API field names). */
export interface PayloadCreateRequest {
  Name?: string;
  Labels?: Labels;
  /** base64, as Go encodes []byte. */
  Data?: string;
  Driver?: { Name?: string; Options?: Record<string, string> };
  Templating?: { Name?: string; Options?: Record<string, string> };
}

/** A secret as any answer shows it: never its data. */
export interface PublicSecret extends Omit<SecretObject, 'Spec'> {
  Spec: { Name: string; Labels: Labels };
}

/** swarmkit's rule for secret and config names (not the DNS rule of services). */
const NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decoded size of base64 `data`; refuses text Go's decoder would refuse, with Go's wording. */
function decodedSize(data: string): number {
  if (!BASE64.test(data) || data.length % 4 !== 0) {
    const bad = [...data].findIndex((c) => !/[A-Za-z0-9+/=]/.test(c));
    throw new ShoalError(
      'invalid_argument',
      `illegal base64 data at input byte ${bad >= 0 ? bad : data.length - (data.length % 4)}`,
    );
  }
  return Buffer.from(data, 'base64').length;
}

/** The spec a create request describes, checked as swarmkit checks it. */
export function payloadSpecOf(kind: PayloadKind, req: PayloadCreateRequest): SecretSpec {
  const name = req.Name ?? '';
  if (!name) throw rpcError('invalid_argument', 'name must be provided');
  if (name.length > 64 || !NAME.test(name)) {
    throw rpcError(
      'invalid_argument',
      'invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]',
    );
  }
  // External secret stores and templating need plugins shoal does not have: say so rather than store
  // a spec no node could ever materialise.
  if (req.Driver && (req.Driver.Name || req.Driver.Options)) {
    throw rpcError(
      'invalid_argument',
      `${kind} drivers are not supported by shoal (--driver ${req.Driver.Name ?? ''}): the data must be given at create`,
    );
  }
  if (req.Templating && (req.Templating.Name || req.Templating.Options)) {
    throw rpcError(
      'invalid_argument',
      `${kind} templating is not supported by shoal (--template-driver ${req.Templating.Name ?? ''})`,
    );
  }
  const data = req.Data ?? '';
  const size = decodedSize(data);
  if (size < 1 || size >= MAX_SIZE[kind]) {
    throw rpcError('invalid_argument', `${kind} data must be larger than 0 and less than ${MAX_SIZE[kind]} bytes`);
  }
  if (kind === 'secret' && Buffer.from(data, 'base64').toString('latin1').trim().length === 0) {
    throw rpcError('invalid_argument', 'secret data must contain non white space bytes');
  }
  return { Name: name, Labels: { ...(req.Labels ?? {}) }, Data: data };
}

/** Only labels may change; a new name or new data is refused (the data compared in constant time). */
export function checkLabelOnlyUpdate(cur: SecretSpec, next: PayloadCreateRequest): void {
  const sameData = next.Data === undefined || next.Data === '' || constantTimeEqual(next.Data, cur.Data);
  if ((next.Name ?? '') !== cur.Name || !sameData)
    throw rpcError('invalid_argument', 'only updates to Labels are allowed');
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Names of the services whose spec references the object, for the in-use refusal. */
export function servicesUsing(kind: PayloadKind, id: string, services: readonly ServiceObject[]): string[] {
  return services
    .filter((s) => {
      const c = s.Spec.TaskTemplate.ContainerSpec;
      return kind === 'secret'
        ? (c?.Secrets ?? []).some((r) => r.SecretID === id)
        : (c?.Configs ?? []).some((r) => r.ConfigID === id);
    })
    .map((s) => s.Spec.Name);
}

export function inUseError(kind: PayloadKind, name: string, services: readonly string[]): ShoalError {
  const noun = services.length === 1 ? 'service' : 'services';
  return rpcError('invalid_argument', `${kind} '${name}' is in use by the following ${noun}: ${services.join(', ')}`);
}

/** A secret with its data removed, for every answer. */
export function redactSecret(s: SecretObject): PublicSecret {
  return { ...s, Spec: { Name: s.Spec.Name, Labels: s.Spec.Labels } };
}

// ---------- the operations, on either table ----------

/** ref = full id, exact name, or unique id prefix (as moby resolves `/secrets/{ref}`). */
export function findPayload<K extends PayloadKind>(store: Store, kind: K, ref: string): ObjectTypes[K] {
  return resolveRef<ObjectTypes[K]>(
    store.view((tx) => tx.all(kind)),
    ref,
    (o) => o.Spec.Name,
    kind,
  );
}

export async function createPayload(
  ctx: ControlContext,
  kind: PayloadKind,
  req: PayloadCreateRequest,
): Promise<{ id: string }> {
  const spec = payloadSpecOf(kind, req);
  const id = newId(ctx.random);
  await storeWrite(ctx, (tx) => {
    if (tx.all(kind).some((o) => o.Spec.Name === spec.Name))
      throw rpcError('already_exists', `${kind} ${spec.Name} already exists`);
    tx.create(kind, { ID: id, Version: { Index: 0 }, CreatedAt: tx.now, UpdatedAt: tx.now, Spec: spec });
  });
  return { id };
}

export async function updatePayload(
  ctx: ControlContext,
  kind: PayloadKind,
  ref: string,
  version: number,
  req: PayloadCreateRequest,
): Promise<void> {
  const found = findPayload(ctx.store, kind, ref);
  await storeWrite(ctx, (tx) => {
    const cur = tx.get(kind, found.ID);
    if (!cur) throw new ShoalError('not_found', `${kind} ${ref} not found`);
    if (cur.Version.Index !== version) throw rpcError('unknown', 'update out of sequence');
    checkLabelOnlyUpdate(cur.Spec, req);
    tx.update(kind, { ...cur, Spec: { ...cur.Spec, Labels: { ...(req.Labels ?? {}) } } });
  });
}

export async function removePayload(ctx: ControlContext, kind: PayloadKind, ref: string): Promise<void> {
  const found = findPayload(ctx.store, kind, ref);
  await storeWrite(ctx, (tx) => {
    const cur = tx.get(kind, found.ID);
    if (!cur) throw new ShoalError('not_found', `${kind} ${ref} not found`);
    const users = servicesUsing(kind, cur.ID, tx.all('service'));
    if (users.length > 0) throw inUseError(kind, cur.Spec.Name, users);
    tx.delete(kind, cur.ID);
  });
}
