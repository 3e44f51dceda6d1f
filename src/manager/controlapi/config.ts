/** Configs: like secrets, except that inspect shows the data (base64 `Spec.Data`, as Docker does). */
import type { ConfigObject } from '../../store/types.js';
import { read, write } from './method.js';
import { createPayload, findPayload, removePayload, updatePayload, type PayloadCreateRequest } from './payload.js';

export const configMethods = {
  listConfigs: read((ctx): ConfigObject[] => ctx.store.view((tx) => tx.all('config'))),

  getConfig: read((ctx, ref: string): ConfigObject => findPayload(ctx.store, 'config', ref)),

  createConfig: write((ctx, req: PayloadCreateRequest) => createPayload(ctx, 'config', req)),

  updateConfig: write((ctx, ref: string, version: number, req: PayloadCreateRequest) =>
    updatePayload(ctx, 'config', ref, version, req),
  ),

  removeConfig: write((ctx, ref: string) => removePayload(ctx, 'config', ref)),
};
