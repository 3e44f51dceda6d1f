/**
 * `/secrets*` and `/configs*`. Filters as moby passes them to swarmkit: `id` and `name` match by
 * prefix, `names` exactly (any of them), `label` must all match. A secret's data is never in an
 * answer (the control API has already removed it); a config's is, as in Docker.
 */
import type { ClusterApi } from '../manager/controlapi/methods.js';
import type { PayloadCreateRequest } from '../manager/controlapi/payload.js';
import { rfc3339, ZERO_TIME } from '../common/clock.js';
import { CONFIG_SPEC, SECRET_SPEC } from './engine-types.js';
import { writeJson } from './errors.js';
import { labelsMatch, parseFilters, type Filters } from './filters.js';
import { parseVersionParam, type Router } from './router.js';

const FILTERS = ['id', 'label', 'name', 'names'];

interface Listed {
  ID: string;
  Version: { Index: number };
  CreatedAt: number;
  UpdatedAt: number;
  Spec: { Name: string; Labels: Record<string, string>; Data?: string };
}

function matches(o: Listed, f: Filters): boolean {
  // swarmkit ORs the id/name/names selectors and ANDs the labels.
  const by = [
    ...(f.get('id') ?? []).map((v) => o.ID.startsWith(v)),
    ...(f.get('name') ?? []).map((v) => o.Spec.Name.startsWith(v)),
    ...(f.get('names') ?? []).map((v) => o.Spec.Name === v),
  ];
  return (by.length === 0 || by.some(Boolean)) && labelsMatch(f, 'label', o.Spec.Labels);
}

export function payloadWire(o: Listed): Record<string, unknown> {
  const spec: Record<string, unknown> = { Name: o.Spec.Name, Labels: o.Spec.Labels };
  if (o.Spec.Data !== undefined) spec.Data = o.Spec.Data;
  return {
    ID: o.ID,
    Version: { Index: o.Version.Index },
    CreatedAt: o.CreatedAt ? rfc3339(o.CreatedAt) : ZERO_TIME,
    UpdatedAt: o.UpdatedAt ? rfc3339(o.UpdatedAt) : ZERO_TIME,
    Spec: spec,
  };
}

export function payloadRoutes(r: Router, control: ClusterApi): void {
  r.on('GET', '/secrets', async (c) => {
    const f = parseFilters(c.query.get('filters'), FILTERS);
    writeJson(c.res, 200, (await control.listSecrets()).filter((s) => matches(s, f)).map(payloadWire));
  });
  r.on('GET', '/secrets/{id}', async (c) => writeJson(c.res, 200, payloadWire(await control.getSecret(c.params.id!))));
  r.on('POST', '/secrets/create', async (c) => {
    const { id } = await control.createSecret(await c.json<PayloadCreateRequest>(SECRET_SPEC));
    writeJson(c.res, 201, { ID: id });
  });
  r.on('POST', '/secrets/{id}/update', async (c) => {
    const version = parseVersionParam(c.query, 'secret');
    await control.updateSecret(c.params.id!, version, await c.json<PayloadCreateRequest>(SECRET_SPEC));
    c.res.writeHead(200).end();
  });
  r.on('DELETE', '/secrets/{id}', async (c) => {
    await control.removeSecret(c.params.id!);
    c.res.writeHead(204).end();
  });

  r.on('GET', '/configs', async (c) => {
    const f = parseFilters(c.query.get('filters'), FILTERS);
    writeJson(c.res, 200, (await control.listConfigs()).filter((s) => matches(s, f)).map(payloadWire));
  });
  r.on('GET', '/configs/{id}', async (c) => writeJson(c.res, 200, payloadWire(await control.getConfig(c.params.id!))));
  r.on('POST', '/configs/create', async (c) => {
    const { id } = await control.createConfig(await c.json<PayloadCreateRequest>(CONFIG_SPEC));
    writeJson(c.res, 201, { ID: id });
  });
  r.on('POST', '/configs/{id}/update', async (c) => {
    const version = parseVersionParam(c.query, 'config');
    await control.updateConfig(c.params.id!, version, await c.json<PayloadCreateRequest>(CONFIG_SPEC));
    c.res.writeHead(200).end();
  });
  r.on('DELETE', '/configs/{id}', async (c) => {
    await control.removeConfig(c.params.id!);
    c.res.writeHead(204).end();
  });
}
