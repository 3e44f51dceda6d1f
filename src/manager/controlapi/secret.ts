/**
 * Secrets: `secret create|ls|inspect|rm` and label updates. The data is kept only in the store
 * (inside the encrypted Raft log and snapshots) and never leaves through these methods: every
 * answer is redacted here, on the leader, so a forwarded call carries no data back either.
 */
import { read, write } from './method.js';
import {
  createPayload,
  findPayload,
  redactSecret,
  removePayload,
  updatePayload,
  type PayloadCreateRequest,
  type PublicSecret,
} from './payload.js';

export const secretMethods = {
  listSecrets: read((ctx): PublicSecret[] => ctx.store.view((tx) => tx.all('secret')).map(redactSecret)),

  getSecret: read((ctx, ref: string): PublicSecret => redactSecret(findPayload(ctx.store, 'secret', ref))),

  createSecret: write((ctx, req: PayloadCreateRequest) => createPayload(ctx, 'secret', req)),

  updateSecret: write((ctx, ref: string, version: number, req: PayloadCreateRequest) =>
    updatePayload(ctx, 'secret', ref, version, req),
  ),

  removeSecret: write((ctx, ref: string) => removePayload(ctx, 'secret', ref)),
};
