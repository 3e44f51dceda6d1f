/**
 * Validation of service specs, with swarmkit's rules and wording: a bad spec is refused with a 400
 * naming the field at fault, and nothing is written.
 */
import type { Mount, PortConfig, ServiceSpec, UpdateConfig } from '../../store/types.js';
import { parseConstraints } from '../scheduler/constraint.js';
import { validateDependsOn } from './dependencies.js';
import { rpcError } from './rpc-errors.js';

const NAME_RE = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;
const MIN_MEMORY = 4 * 1024 * 1024;
/** The most replicas (or job completions) one service may ask for. */
export const MAX_REPLICAS = 100_000;

const invalid = (desc: string): Error => rpcError('invalid_argument', desc);

export function validateName(name: string): void {
  if (!name) throw invalid('meta: name must be provided');
  if (name.length > 63 || !NAME_RE.test(name)) throw invalid('name must be valid as a DNS name component');
}

function nonNegative(v: number | undefined, what: string): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0))
    throw invalid(`${what} cannot be negative`);
}

function validateUpdateConfig(u: UpdateConfig | undefined, what: 'update' | 'rollback'): void {
  if (!u) return;
  nonNegative(u.Delay, `TaskSpec: ${what}-delay`);
  nonNegative(u.Monitor, `TaskSpec: ${what}-monitor`);
  nonNegative(u.Parallelism, `TaskSpec: ${what}-parallelism`);
  if (u.MaxFailureRatio !== undefined && (u.MaxFailureRatio < 0 || u.MaxFailureRatio > 1)) {
    throw invalid(`TaskSpec: ${what}-maxfailureratio cannot be less than 0 or bigger than 1`);
  }
  if (u.FailureAction !== undefined && !['pause', 'continue', 'rollback'].includes(u.FailureAction)) {
    throw invalid(`TaskSpec: unknown ${what} failure action ${u.FailureAction}`);
  }
  if (what === 'rollback' && u.FailureAction === 'rollback')
    throw invalid('TaskSpec: rollback failure action cannot be rollback');
  if (u.Order !== undefined && !['stop-first', 'start-first'].includes(u.Order))
    throw invalid(`TaskSpec: unknown ${what} order ${u.Order}`);
}

function validateMounts(mounts: Mount[] | undefined): void {
  const seen = new Set<string>();
  for (const m of mounts ?? []) {
    if (!m.Target) throw invalid('ContainerSpec: mount target must be provided');
    if (seen.has(m.Target)) throw invalid(`ContainerSpec: duplicate mount point: ${m.Target}`);
    seen.add(m.Target);
    if (!['bind', 'volume', 'tmpfs', 'npipe', 'cluster'].includes(m.Type))
      throw invalid(`ContainerSpec: invalid mount type: ${m.Type}`);
    if (m.Type === 'bind' && !m.Source)
      throw invalid(`ContainerSpec: invalid bind mount source, source is required: ${m.Target}`);
    if (m.Type === 'bind' && m.Source && !m.Source.startsWith('/'))
      throw invalid(`ContainerSpec: invalid bind mount source, must be an absolute path: ${m.Source}`);
    if (m.Type === 'tmpfs' && m.Source) throw invalid('ContainerSpec: invalid tmpfs source, source must be empty');
  }
}

function validatePorts(ports: PortConfig[] | undefined, mode: string | undefined): void {
  const seen = new Set<string>();
  for (const p of ports ?? []) {
    if (!Number.isInteger(p.TargetPort) || p.TargetPort <= 0 || p.TargetPort > 65535)
      throw invalid(`EndpointSpec: invalid target port ${p.TargetPort}`);
    if (p.PublishedPort !== undefined && (p.PublishedPort < 0 || p.PublishedPort > 65535))
      throw invalid(`EndpointSpec: invalid published port ${p.PublishedPort}`);
    if (p.Protocol && !['tcp', 'udp', 'sctp'].includes(p.Protocol))
      throw invalid(`EndpointSpec: invalid protocol ${p.Protocol}`);
    if (p.PublishMode && !['ingress', 'host'].includes(p.PublishMode))
      throw invalid(`EndpointSpec: invalid publish mode ${p.PublishMode}`);
    if (mode === 'dnsrr' && (p.PublishMode ?? 'ingress') === 'ingress') {
      throw invalid("EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
    }
    if (!p.PublishedPort) continue;
    const key = `${p.PublishedPort}/${p.Protocol ?? 'tcp'}`;
    if (seen.has(key)) throw invalid(`EndpointSpec: duplicate published ports provided`);
    seen.add(key);
  }
}

export function validateServiceSpec(spec: ServiceSpec): void {
  if (!spec || typeof spec !== 'object') throw invalid('service spec must be provided');
  validateName(spec.Name);
  const t = spec.TaskTemplate;
  if (!t || !t.ContainerSpec) throw invalid('TaskSpec: missing runtime spec');
  const c = t.ContainerSpec;
  if (!c.Image || typeof c.Image !== 'string') throw invalid('ContainerSpec: image reference must be provided');
  validateMounts(c.Mounts);
  nonNegative(c.StopGracePeriod, 'ContainerSpec: stop grace period');
  const lim = t.Resources?.Limits;
  const res = t.Resources?.Reservations;
  for (const [r, what] of [
    [lim, 'limit'],
    [res, 'reservation'],
  ] as const) {
    if (!r) continue;
    if (r.NanoCPUs !== undefined && r.NanoCPUs !== 0 && r.NanoCPUs < 1e6) {
      throw invalid(`invalid cpu value ${(r.NanoCPUs / 1e9).toString()}: Must be at least 0.001`);
    }
    if (r.MemoryBytes !== undefined && r.MemoryBytes !== 0 && r.MemoryBytes < MIN_MEMORY) {
      throw invalid(`invalid memory value ${r.MemoryBytes}: Must be at least 4MiB`);
    }
    void what;
  }
  const rp = t.RestartPolicy;
  if (rp) {
    nonNegative(rp.Delay, 'TaskSpec: restart-delay');
    nonNegative(rp.Window, 'TaskSpec: restart-window');
    if (rp.Condition !== undefined && !['none', 'on-failure', 'any'].includes(rp.Condition)) {
      throw invalid(`TaskSpec: invalid restart condition ${rp.Condition}`);
    }
  }
  try {
    parseConstraints(t.Placement?.Constraints ?? []);
  } catch (e) {
    throw invalid((e as Error).message);
  }
  for (const p of t.Placement?.Preferences ?? []) {
    if (!p.Spread?.SpreadDescriptor) throw invalid('TaskSpec: placement preference must be spread with a descriptor');
  }
  const mode = spec.Mode;
  if (!mode || typeof mode !== 'object') throw invalid('service mode must be provided');
  if ('Replicated' in mode) {
    const r = mode.Replicated?.Replicas;
    if (r !== undefined && (!Number.isInteger(r) || r < 0))
      throw invalid('Mode: replicas must be a non-negative integer');
    // Every replica is a task object in every manager's memory: a typo of a few zeros must not take the swarm down.
    if (r !== undefined && r > MAX_REPLICAS) throw invalid(`Mode: replicas cannot be more than ${MAX_REPLICAS}`);
  } else if ('ReplicatedJob' in mode) {
    // swarmkit's wording; its fields are unsigned, so a negative number would wrap around.
    const j = mode.ReplicatedJob ?? {};
    if (j.MaxConcurrent !== undefined && (!Number.isInteger(j.MaxConcurrent) || j.MaxConcurrent < 0))
      throw invalid('Maximum concurrent jobs must not be negative');
    if (j.TotalCompletions !== undefined && (!Number.isInteger(j.TotalCompletions) || j.TotalCompletions < 0))
      throw invalid('Total completed jobs must not be negative');
    if ((j.MaxConcurrent ?? 0) > MAX_REPLICAS || (j.TotalCompletions ?? 0) > MAX_REPLICAS)
      throw invalid(`Mode: a job cannot ask for more than ${MAX_REPLICAS} tasks`);
  } else if (!('Global' in mode) && !('GlobalJob' in mode)) {
    throw invalid('Mode: unrecognized service mode');
  }
  validateUpdateConfig(spec.UpdateConfig, 'update');
  validateUpdateConfig(spec.RollbackConfig, 'rollback');
  if (spec.EndpointSpec?.Mode && !['vip', 'dnsrr'].includes(spec.EndpointSpec.Mode)) {
    throw invalid(`EndpointSpec: invalid endpoint mode ${spec.EndpointSpec.Mode}`);
  }
  validatePorts(spec.EndpointSpec?.Ports, spec.EndpointSpec?.Mode);
  validateDependsOn(spec);
}

export function modeName(spec: ServiceSpec): string {
  return Object.keys(spec.Mode)[0] ?? '';
}
