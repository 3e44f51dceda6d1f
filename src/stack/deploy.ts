/**
 * `stack deploy` against a daemon: the same calls, in the same order and with the same output lines
 * as docker's client-side stack deploy, plus what shoal adds — everything is checked before the
 * first object is created, and a service whose spec did not change is not touched (its version
 * stays).
 */
import { HttpError } from '../common/http-client.js';
import { normalizeServiceSpec } from '../manager/controlapi/service.js';
import { validateServiceSpec } from '../manager/controlapi/service-validation.js';
import type { ServiceSpec } from '../store/types.js';
import { GENERATION_LABEL, generationOf, labelFilter, type StackApi } from './stack-api.js';
import type { Stack, StackPayload } from './types.js';

export type ResolveImage = 'always' | 'changed' | 'never';

export interface DeployOptions {
  prune: boolean;
  resolveImage: ResolveImage;
  /** Progress lines (`Creating service wp_web`). */
  out(line: string): void;
  /** Warnings (unsupported options, unresolved image digests, daemon warnings). */
  warn(line: string): void;
}

/** A service the deploy created or changed: what `--detach=false` waits for. */
export interface DeployedService {
  id: string;
  name: string;
}

export class StackDeployError extends Error {}

interface WireNetwork {
  Id: string;
  Name: string;
  Scope: string;
}
interface WirePayload {
  ID: string;
  Version: { Index: number };
  Spec: { Name: string; Labels?: Record<string, string> };
}
interface WireService {
  ID: string;
  Version: { Index: number };
  Spec: ServiceSpec;
}

async function getOrUndefined<T>(api: StackApi, path: string): Promise<T | undefined> {
  try {
    return await api.get<T>(path);
  } catch (e) {
    if (e instanceof HttpError && e.status === 404) return undefined;
    throw e;
  }
}

/** Docker's wording when the registry could not be asked for the image's digest. */
function unresolvedImageWarning(image: string): string {
  return (
    `image ${image} could not be accessed on a registry to record\n` +
    `its digest. Each node will access ${image} independently,\n` +
    `possibly leading to different nodes running different\n` +
    `versions of the image.\n`
  );
}

/** Members whose empty value still says something (`Mode: { Global: {} }`). */
const MEANINGFUL_WHEN_EMPTY = new Set(['Global', 'GlobalJob']);

function isEmpty(x: unknown): boolean {
  if (Array.isArray(x)) return x.length === 0;
  return typeof x === 'object' && x !== null && Object.keys(x).length === 0;
}

/**
 * Key-sorted JSON where absent, null, `{}` and `[]` members are all the same: two specs that mean
 * the same compare equal (docker's CLI sends `Privileges: {}` and `Placement: {}`, shoal's none).
 */
function canonical(v: unknown): string {
  const strip = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(strip);
    if (x && typeof x === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(x).sort()) {
        const m = strip((x as Record<string, unknown>)[k]);
        if (m === undefined || m === null || (isEmpty(m) && !MEANINGFUL_WHEN_EMPTY.has(k))) continue;
        out[k] = m;
      }
      return out;
    }
    return x;
  };
  return JSON.stringify(strip(v));
}

/** The spec as it will be stored, so an unchanged service compares equal to what the daemon holds. */
function comparable(spec: ServiceSpec): string {
  return canonical(normalizeServiceSpec(spec));
}

async function checkManager(api: StackApi): Promise<void> {
  const info = await api.get<{ Swarm?: { ControlAvailable?: boolean } }>('/info');
  if (!info.Swarm?.ControlAvailable) {
    throw new StackDeployError(
      'this node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again',
    );
  }
}

/** Everything that can be known wrong before anything is created. */
async function preflight(api: StackApi, stack: Stack): Promise<Map<string, string>> {
  const networkIds = new Map<string, string>();
  for (const name of stack.externalNetworks) {
    const n = await getOrUndefined<WireNetwork>(api, `/networks/${encodeURIComponent(name)}`);
    if (!n) {
      throw new StackDeployError(
        `network "${name}" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed`,
      );
    }
    if (n.Scope !== 'swarm') {
      throw new StackDeployError(
        `network "${name}" is declared as external, but it is not in the right scope: "${n.Scope}" instead of "swarm"`,
      );
    }
    networkIds.set(name, n.Id);
  }
  for (const [kind, names] of [
    ['secret', stack.externalSecrets],
    ['config', stack.externalConfigs],
  ] as const) {
    for (const name of names) {
      if (!(await getOrUndefined(api, `/${kind}s/${encodeURIComponent(name)}`)))
        throw new StackDeployError(`${kind} not found: ${name}`);
    }
  }
  for (const s of stack.services) {
    try {
      // Network targets and payload IDs are filled in later; check the rest as the daemon will.
      const probe = normalizeServiceSpec(s.spec);
      validateServiceSpec(probe);
    } catch (e) {
      throw new StackDeployError(`service ${s.name}: ${(e as Error).message}`);
    }
  }
  return networkIds;
}

async function deployNetworks(api: StackApi, stack: Stack, ids: Map<string, string>, o: DeployOptions): Promise<void> {
  const existing = await api.get<WireNetwork[]>(`/networks?${labelFilter(stack.namespace)}`);
  for (const n of existing) ids.set(n.Name, n.Id);
  for (const n of stack.networks) {
    if (ids.has(n.name)) continue;
    o.out(`Creating network ${n.name}`);
    const r = await api.post<{ Id: string }>('/networks/create', { ...n.body, CheckDuplicate: true });
    ids.set(n.name, r.Id);
  }
}

async function deployPayloads(
  api: StackApi,
  kind: 'secret' | 'config',
  payloads: readonly StackPayload[],
  o: DeployOptions,
): Promise<void> {
  for (const p of payloads) {
    const cur = await getOrUndefined<WirePayload>(api, `/${kind}s/${encodeURIComponent(p.name)}`);
    if (cur) {
      // As docker: the data of a secret or config cannot change; the daemon says so if it did.
      try {
        await api.post(`/${kind}s/${cur.ID}/update?version=${cur.Version.Index}`, p.body);
      } catch (e) {
        throw new StackDeployError(`failed to update ${kind} ${p.name}: ${(e as Error).message}`);
      }
      continue;
    }
    o.out(`Creating ${kind} ${p.name}`);
    try {
      await api.post(`/${kind}s/create`, p.body);
    } catch (e) {
      throw new StackDeployError(`failed to create ${kind} ${p.name}: ${(e as Error).message}`);
    }
  }
}

/** Fills IDs the compose file cannot know: payload IDs by name, network targets by name. */
async function bindReferences(api: StackApi, spec: ServiceSpec, networkIds: Map<string, string>): Promise<void> {
  const c = spec.TaskTemplate.ContainerSpec;
  for (const [kind, refs] of [
    ['secret', c?.Secrets ?? []],
    ['config', c?.Configs ?? []],
  ] as const) {
    for (const r of refs) {
      const name = 'SecretName' in r ? r.SecretName : (r as { ConfigName: string }).ConfigName;
      const found = await getOrUndefined<WirePayload>(api, `/${kind}s/${encodeURIComponent(name)}`);
      if (!found) throw new StackDeployError(`${kind} not found: ${name}`);
      if ('SecretName' in r) r.SecretID = found.ID;
      else (r as { ConfigID: string }).ConfigID = found.ID;
    }
  }
  for (const a of spec.TaskTemplate.Networks ?? []) a.Target = networkIds.get(a.Target) ?? a.Target;
}

async function resolveImage(api: StackApi, image: string, o: DeployOptions): Promise<void> {
  try {
    await api.get(`/distribution/${encodeURIComponent(image)}/json`);
  } catch {
    o.warn(unresolvedImageWarning(image));
  }
}

export async function deployStack(api: StackApi, stack: Stack, o: DeployOptions): Promise<DeployedService[]> {
  await checkManager(api);
  for (const w of stack.warnings) o.warn(w);
  const networkIds = await preflight(api, stack);
  await deployNetworks(api, stack, networkIds, o);
  await deployPayloads(api, 'secret', stack.secrets, o);
  await deployPayloads(api, 'config', stack.configs, o);

  const existing = new Map(
    (await api.get<WireService[]>(`/services?${labelFilter(stack.namespace)}`)).map((s) => [s.Spec.Name, s]),
  );
  const generation = Math.max(0, ...[...existing.values()].map((s) => generationOf(s.Spec))) + 1;
  const deployed: DeployedService[] = [];
  const services = [...stack.services].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const s of services) {
    const spec = structuredClone(s.spec);
    await bindReferences(api, spec, networkIds);
    const cur = existing.get(s.name);
    const image = spec.TaskTemplate.ContainerSpec?.Image ?? '';
    if (cur) {
      // What the compose file cannot say stays as it is: a forced restart counter, a rebalance.
      spec.TaskTemplate.ForceUpdate = cur.Spec.TaskTemplate.ForceUpdate ?? 0;
      if (cur.Spec.Rebalance !== undefined) spec.Rebalance = cur.Spec.Rebalance;
      spec.DependsOn ??= [];
      const curGeneration = cur.Spec.Labels?.[GENERATION_LABEL];
      if (curGeneration !== undefined) spec.Labels = { ...spec.Labels, [GENERATION_LABEL]: curGeneration };
      if (comparable(spec) === comparable(cur.Spec)) continue;
      spec.Labels = { ...spec.Labels, [GENERATION_LABEL]: String(generation) };
      const imageChanged = image !== (cur.Spec.TaskTemplate.ContainerSpec?.Image ?? '');
      if (o.resolveImage === 'always' || (o.resolveImage === 'changed' && imageChanged))
        await resolveImage(api, image, o);
      o.out(`Updating service ${s.name} (id: ${cur.ID})`);
      let r: { Warnings?: string[] | null };
      try {
        r = await api.post(`/services/${cur.ID}/update?version=${cur.Version.Index}`, spec);
      } catch (e) {
        throw new StackDeployError(`failed to update service ${s.name}: ${(e as Error).message}`);
      }
      for (const w of r.Warnings ?? []) o.warn(w);
      deployed.push({ id: cur.ID, name: s.name });
    } else {
      if (o.resolveImage !== 'never') await resolveImage(api, image, o);
      spec.Labels = { ...spec.Labels, [GENERATION_LABEL]: String(generation) };
      o.out(`Creating service ${s.name}`);
      let r: { ID: string; Warnings?: string[] | null };
      try {
        r = await api.post('/services/create', spec);
      } catch (e) {
        throw new StackDeployError(`failed to create service ${s.name}: ${(e as Error).message}`);
      }
      for (const w of r.Warnings ?? []) o.warn(w);
      deployed.push({ id: r.ID, name: s.name });
    }
  }
  if (o.prune) {
    const wanted = new Set(stack.services.map((s) => s.name));
    for (const [name, cur] of [...existing].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (wanted.has(name)) continue;
      o.out(`Removing service ${name}`);
      await api.del(`/services/${cur.ID}`);
    }
  }
  return deployed;
}
