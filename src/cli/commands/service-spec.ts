/** Building and changing a service spec from docker's `service create/update` flags. */
import type { ServiceSpec, UpdateConfig } from '../../store/types.js';
import { CliError } from '../client.js';
import { parseConfigRef, parseSecretRef } from './payload.js';
import { serviceModeFromFlags } from './service-mode.js';
import { parseCpus, parseDuration, parseKeyValues, parseMemory, parseMount, parsePublish } from '../opts.js';

export interface SpecFlags {
  name?: string;
  replicas?: string;
  mode?: string;
  maxConcurrent?: string;
  env?: string[];
  label?: string[];
  containerLabel?: string[];
  publish?: string[];
  mount?: string[];
  secret?: string[];
  config?: string[];
  constraint?: string[];
  placementPref?: string[];
  replicasMaxPerNode?: string;
  restartCondition?: string;
  restartDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  limitCpu?: string;
  limitMemory?: string;
  reserveCpu?: string;
  reserveMemory?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthcheck?: boolean; // --no-healthcheck sets false
  user?: string;
  workdir?: string;
  hostname?: string;
  init?: boolean;
  stopGracePeriod?: string;
  stopSignal?: string;
  entrypoint?: string;
  tty?: boolean;
  endpointMode?: string;
  [k: string]: unknown;
}

const UPDATE_KEYS = ['parallelism', 'delay', 'failureAction', 'monitor', 'maxFailureRatio', 'order'] as const;

function flag(f: SpecFlags, prefix: 'update' | 'rollback', key: (typeof UPDATE_KEYS)[number]): string | undefined {
  const v = f[`${prefix}${key[0]!.toUpperCase()}${key.slice(1)}`];
  return typeof v === 'string' ? v : undefined;
}

function applyUpdateConfig(
  f: SpecFlags,
  prefix: 'update' | 'rollback',
  base: UpdateConfig | undefined,
): UpdateConfig | undefined {
  const set = UPDATE_KEYS.filter((k) => flag(f, prefix, k) !== undefined);
  if (set.length === 0) return base;
  const c: UpdateConfig = { ...(base ?? {}) };
  for (const k of set) {
    const v = flag(f, prefix, k)!;
    if (k === 'parallelism') c.Parallelism = Number(v);
    if (k === 'delay') c.Delay = parseDuration(v);
    if (k === 'monitor') c.Monitor = parseDuration(v);
    if (k === 'maxFailureRatio') c.MaxFailureRatio = Number(v);
    if (k === 'failureAction') c.FailureAction = v as UpdateConfig['FailureAction'];
    if (k === 'order') c.Order = v as UpdateConfig['Order'];
  }
  return c;
}

/** Sets everything the flags mention on top of `spec` (create starts from an empty one). */
export function applyCommonFlags(spec: ServiceSpec, f: SpecFlags): ServiceSpec {
  const t = spec.TaskTemplate;
  const c = (t.ContainerSpec ??= { Image: '' });
  if (f.containerLabel?.length) c.Labels = { ...(c.Labels ?? {}), ...parseKeyValues(f.containerLabel) };
  if (f.user !== undefined) c.User = f.user;
  if (f.workdir !== undefined) c.Dir = f.workdir;
  if (f.hostname !== undefined) c.Hostname = f.hostname;
  if (f.init) c.Init = true;
  if (f.tty) c.TTY = true;
  if (f.stopGracePeriod !== undefined) c.StopGracePeriod = parseDuration(f.stopGracePeriod);
  if (f.stopSignal !== undefined) c.StopSignal = f.stopSignal;
  if (f.entrypoint !== undefined) c.Command = f.entrypoint.split(/\s+/).filter(Boolean);
  if (f.healthcheck === false) c.Healthcheck = { Test: ['NONE'] };
  else if (f.healthCmd !== undefined || f.healthInterval || f.healthTimeout || f.healthRetries || f.healthStartPeriod) {
    const h = { ...(c.Healthcheck ?? {}) };
    if (f.healthCmd !== undefined) h.Test = ['CMD-SHELL', f.healthCmd];
    if (f.healthInterval) h.Interval = parseDuration(f.healthInterval);
    if (f.healthTimeout) h.Timeout = parseDuration(f.healthTimeout);
    if (f.healthRetries) h.Retries = Number(f.healthRetries);
    if (f.healthStartPeriod) h.StartPeriod = parseDuration(f.healthStartPeriod);
    c.Healthcheck = h;
  }
  const res = (t.Resources ??= {});
  if (f.limitCpu) (res.Limits ??= {}).NanoCPUs = parseCpus(f.limitCpu);
  if (f.limitMemory) (res.Limits ??= {}).MemoryBytes = parseMemory(f.limitMemory);
  if (f.reserveCpu) (res.Reservations ??= {}).NanoCPUs = parseCpus(f.reserveCpu);
  if (f.reserveMemory) (res.Reservations ??= {}).MemoryBytes = parseMemory(f.reserveMemory);
  if (f.restartCondition || f.restartDelay || f.restartMaxAttempts || f.restartWindow) {
    const r = { ...(t.RestartPolicy ?? {}) };
    if (f.restartCondition) {
      if (!['none', 'on-failure', 'any'].includes(f.restartCondition))
        throw new CliError(
          `invalid argument "${f.restartCondition}" for "--restart-condition" flag: invalid restart condition`,
        );
      r.Condition = f.restartCondition as 'none' | 'on-failure' | 'any';
    }
    if (f.restartDelay) r.Delay = parseDuration(f.restartDelay);
    if (f.restartMaxAttempts) r.MaxAttempts = Number(f.restartMaxAttempts);
    if (f.restartWindow) r.Window = parseDuration(f.restartWindow);
    t.RestartPolicy = r;
  }
  if (f.replicasMaxPerNode !== undefined) (t.Placement ??= {}).MaxReplicas = Number(f.replicasMaxPerNode);
  const u = applyUpdateConfig(f, 'update', spec.UpdateConfig);
  if (u) spec.UpdateConfig = u;
  const rb = applyUpdateConfig(f, 'rollback', spec.RollbackConfig);
  if (rb) spec.RollbackConfig = rb;
  if (f.endpointMode) spec.EndpointSpec = { ...(spec.EndpointSpec ?? {}), Mode: f.endpointMode as 'vip' | 'dnsrr' };
  return spec;
}

export function specFromCreateFlags(f: SpecFlags, image: string, args: string[]): ServiceSpec {
  const mode = serviceModeFromFlags(f);
  const spec: ServiceSpec = {
    Name: f.name ?? '',
    Labels: parseKeyValues(f.label ?? []),
    TaskTemplate: {
      ContainerSpec: { Image: image, Init: false, DNSConfig: {} },
      Resources: { Limits: {}, Reservations: {} },
      Placement: {},
      ForceUpdate: 0,
    },
    Mode: mode,
  };
  const c = spec.TaskTemplate.ContainerSpec!;
  if (args.length) c.Args = args;
  if (f.env?.length) c.Env = f.env;
  if (f.mount?.length) c.Mounts = f.mount.map(parseMount);
  if (f.secret?.length) c.Secrets = f.secret.map((v) => parseSecretRef(v));
  if (f.config?.length) c.Configs = f.config.map((v) => parseConfigRef(v));
  if (f.constraint?.length) spec.TaskTemplate.Placement!.Constraints = f.constraint;
  if (f.placementPref?.length) spec.TaskTemplate.Placement!.Preferences = f.placementPref.map(pref);
  if (f.publish?.length) spec.EndpointSpec = { Mode: 'vip', Ports: f.publish.map(parsePublish) };
  return applyCommonFlags(spec, f);
}

export function pref(s: string): { Spread: { SpreadDescriptor: string } } {
  const m = /^spread=(.+)$/.exec(s);
  if (!m) throw new CliError(`invalid argument "${s}" for "--placement-pref" flag: unsupported placement preference`);
  return { Spread: { SpreadDescriptor: m[1]! } };
}
