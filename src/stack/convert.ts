/**
 * The merged, canonical compose document → the Engine API bodies docker's `stack deploy` sends
 * (docker/cli's compose/convert, field by field): names `NS_key`, the `com.docker.stack.namespace`
 * label on services, containers, networks, volumes, secrets and configs, `com.docker.stack.image` on
 * services, network aliases `[key]`, durations in nanoseconds.
 */
import { Buffer } from 'node:buffer';
import type {
  ConfigReference,
  ContainerSpec,
  HealthConfig,
  Mount,
  NetworkAttachmentConfig,
  PortConfig,
  Resources,
  SecretReference,
  ServiceMode,
  ServiceSpec,
  TaskSpec,
  UpdateConfig,
} from '../store/types.js';
import type { KeyPath } from './errors.js';
import type { Lookup } from './interpolate.js';
import { isMap, type Raw, type RawMap, type Reader } from './raw.js';
import { IMAGE_LABEL, NAMESPACE_LABEL } from './stack-api.js';
import type { StackNetwork, StackPayload } from './types.js';
import { parseBytes, parseCpus, parseDuration } from './units.js';

/** Everything a service conversion looks up besides the service itself. */
export interface ConvertContext {
  namespace: string;
  doc: RawMap;
  lookup: Lookup;
  readFile(path: string): string;
  /** Which file a service (or top-level section) came from last, for error messages. */
  readerFor(path: KeyPath): Reader;
}

function section(c: ConvertContext, key: string): RawMap {
  const v = c.doc[key];
  return isMap(v) ? v : {};
}

/** Labels as a mapping (list form `k=v` too), plus the stack's namespace label. */
function withNamespace(c: ConvertContext, r: Reader, labels: Raw | undefined, path: KeyPath): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.dict(labels, path) ?? {})) out[k] = v ?? '';
  out[NAMESPACE_LABEL] = c.namespace;
  return out;
}

function duration(r: Reader, v: Raw | undefined, path: KeyPath): number | undefined {
  const s = r.str(v, path);
  if (s === undefined) return undefined;
  return parseDuration(s) ?? r.fail(path, `must be a duration like 10s or 1m30s, not "${s}"`);
}

function oneOf<T extends string>(r: Reader, v: Raw | undefined, path: KeyPath, allowed: readonly T[]): T | undefined {
  const s = r.str(v, path);
  if (s === undefined) return undefined;
  return allowed.find((a) => a === s) ?? r.fail(path, `must be one of: ${allowed.join(', ')}`);
}

/** Full name of a top-level object: its `name:`, or `NS_key` (external ones keep the key). */
function objectName(c: ConvertContext, def: RawMap, key: string, kind: string, path: KeyPath): string {
  const r: Reader = c.readerFor(path);
  const name = r.str(def['name'], [...path, 'name']);
  const ext = def['external'];
  if (isMap(ext)) {
    const old = r.str(ext['name'], [...path, 'external', 'name']);
    if (old !== undefined && name !== undefined) {
      r.fail(path, `sets both ${kind}.external.name and ${kind}.name; use only ${kind}.name`);
    }
    if (old !== undefined) return old;
  }
  if (name !== undefined) return name;
  return isExternal(r, def, path) ? key : `${c.namespace}_${key}`;
}

function isExternal(r: Reader, def: RawMap, path: KeyPath): boolean {
  const ext = def['external'];
  return isMap(ext) ? true : (r.bool(ext, [...path, 'external']) ?? false);
}

// ---------- networks ----------

export interface NetworkPlan {
  networks: StackNetwork[];
  external: string[];
}

export function convertNetworks(c: ConvertContext, used: Set<string>): NetworkPlan {
  const defs = section(c, 'networks');
  const networks: StackNetwork[] = [];
  const external: string[] = [];
  for (const key of [...used].sort()) {
    const path = ['networks', key];
    const r: Reader = c.readerFor(path);
    const def = isMap(defs[key]) ? defs[key] : {};
    const name = objectName(c, def, key, 'network', path);
    if (isExternal(r, def, path)) {
      external.push(name);
      continue;
    }
    const driver = r.str(def['driver'], [...path, 'driver']) ?? 'overlay';
    if (driver !== 'overlay') r.fail([...path, 'driver'], `must be overlay for a swarm stack, not "${driver}"`);
    const body: StackNetwork['body'] = {
      Name: name,
      Driver: driver,
      Labels: withNamespace(c, r, def['labels'], [...path, 'labels']),
    };
    const attachable = r.bool(def['attachable'], [...path, 'attachable']);
    if (attachable !== undefined) body.Attachable = attachable;
    const internal = r.bool(def['internal'], [...path, 'internal']);
    if (internal !== undefined) body.Internal = internal;
    const opts = r.dict(def['driver_opts'], [...path, 'driver_opts']);
    if (opts) body.Options = Object.fromEntries(Object.entries(opts).map(([k, v]) => [k, v ?? '']));
    const ipam = r.map(def['ipam'], [...path, 'ipam']);
    if (ipam) {
      const ipamDriver = r.str(ipam['driver'], [...path, 'ipam', 'driver']);
      const configs = Array.isArray(ipam['config']) ? ipam['config'] : [];
      body.IPAM = {
        ...(ipamDriver !== undefined ? { Driver: ipamDriver } : {}),
        Config: configs.filter(isMap).map((m, i) => {
          const at = [...path, 'ipam', 'config', i];
          const subnet = r.str(m['subnet'], [...at, 'subnet']);
          const range = r.str(m['ip_range'], [...at, 'ip_range']);
          const gateway = r.str(m['gateway'], [...at, 'gateway']);
          return {
            ...(subnet !== undefined ? { Subnet: subnet } : {}),
            ...(range !== undefined ? { IPRange: range } : {}),
            ...(gateway !== undefined ? { Gateway: gateway } : {}),
          };
        }),
      };
    }
    networks.push({ name, body });
  }
  return { networks, external };
}

// ---------- secrets and configs ----------

export interface PayloadPlan {
  payloads: StackPayload[];
  /** Key → full name, for every defined secret or config. */
  names: Map<string, string>;
  externalKeys: Set<string>;
}

export function convertPayloads(c: ConvertContext, kind: 'secrets' | 'configs'): PayloadPlan {
  const defs = section(c, kind);
  const single = kind === 'secrets' ? 'secret' : 'config';
  const payloads: StackPayload[] = [];
  const names = new Map<string, string>();
  const externalKeys = new Set<string>();
  for (const key of Object.keys(defs).sort()) {
    const path = [kind, key];
    const r: Reader = c.readerFor(path);
    const def = r.map(defs[key], path) ?? {};
    const name = objectName(c, def, key, single, path);
    names.set(key, name);
    if (isExternal(r, def, path)) {
      externalKeys.add(key);
      continue;
    }
    let data: string;
    const file = r.str(def['file'], [...path, 'file']);
    const envName = r.str(def['environment'], [...path, 'environment']);
    const content = r.str(def['content'], [...path, 'content']);
    if (file !== undefined) {
      try {
        data = Buffer.from(c.readFile(file), 'utf8').toString('base64');
      } catch (e) {
        return r.fail([...path, 'file'], `cannot be read: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else if (envName !== undefined) {
      const v = c.lookup(envName);
      if (v === undefined) r.fail([...path, 'environment'], `names variable ${envName}, which is not set`);
      data = Buffer.from(v, 'utf8').toString('base64');
    } else if (content !== undefined) {
      data = Buffer.from(content, 'utf8').toString('base64');
    } else {
      return r.fail(path, 'needs file, environment, content or external: true');
    }
    const body: StackPayload['body'] = {
      Name: name,
      Labels: withNamespace(c, r, def['labels'], [...path, 'labels']),
      Data: data,
    };
    const templating = r.str(def['template_driver'], [...path, 'template_driver']);
    if (templating !== undefined) body.Templating = { Name: templating };
    payloads.push({ name, body });
  }
  return { payloads, names, externalKeys };
}

interface FileRef {
  name: string;
  file: { Name: string; UID: string; GID: string; Mode: number };
}

function fileRefs(r: Reader, v: Raw | undefined, path: KeyPath, plan: PayloadPlan, kind: string): FileRef[] {
  const refs: FileRef[] = [];
  (Array.isArray(v) ? v : []).forEach((item, i) => {
    const at = [...path, i];
    const m = r.map(item, at) ?? {};
    const source = r.str(m['source'], [...at, 'source']) ?? r.fail([...at, 'source'], 'is required');
    const name = plan.names.get(source) ?? r.fail(at, `refers to undefined ${kind} "${source}"`);
    const modeRaw = m['mode'];
    let mode = 0o444;
    if (typeof modeRaw === 'number') mode = modeRaw;
    else if (typeof modeRaw === 'string') {
      if (!/^0?[0-7]{1,4}$/.test(modeRaw)) r.fail([...at, 'mode'], `must be an octal file mode, not "${modeRaw}"`);
      mode = parseInt(modeRaw, 8);
    }
    refs.push({
      name,
      file: {
        Name: r.str(m['target'], [...at, 'target']) ?? source,
        UID: r.str(m['uid'], [...at, 'uid']) ?? '0',
        GID: r.str(m['gid'], [...at, 'gid']) ?? '0',
        Mode: mode,
      },
    });
  });
  return refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------- services ----------

export interface ServiceInputs {
  secrets: PayloadPlan;
  configs: PayloadPlan;
}

function mode(r: Reader, d: RawMap, path: KeyPath): ServiceMode {
  const kind =
    oneOf(r, d['mode'], [...path, 'mode'], ['replicated', 'global', 'replicated-job', 'global-job'] as const) ??
    'replicated';
  const replicas = r.int(d['replicas'], [...path, 'replicas']);
  if (replicas !== undefined && (kind === 'global' || kind === 'global-job')) {
    r.fail([...path, 'replicas'], `cannot be used with mode ${kind} (only replicated and replicated-job)`);
  }
  switch (kind) {
    case 'global':
      return { Global: {} };
    case 'global-job':
      return { GlobalJob: {} };
    case 'replicated-job':
      return { ReplicatedJob: replicas === undefined ? {} : { MaxConcurrent: replicas, TotalCompletions: replicas } };
    case 'replicated':
      return { Replicated: replicas === undefined ? {} : { Replicas: replicas } };
  }
}

function resources(r: Reader, v: Raw | undefined, path: KeyPath, withPids: boolean): Resources | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  const out: Resources = {};
  const cpus = m['cpus'];
  if (cpus !== undefined && cpus !== null) {
    const n = typeof cpus === 'number' || typeof cpus === 'string' ? parseCpus(cpus) : undefined;
    if (n === undefined) r.fail([...path, 'cpus'], `must be a number of CPUs like 0.5, not ${JSON.stringify(cpus)}`);
    if (n !== 0) out.NanoCPUs = n;
  }
  const memory = m['memory'];
  if (memory !== undefined && memory !== null) {
    const n = typeof memory === 'number' || typeof memory === 'string' ? parseBytes(memory) : undefined;
    if (n === undefined) r.fail([...path, 'memory'], `must be a size like 512M or 1G, not ${JSON.stringify(memory)}`);
    if (n !== 0) out.MemoryBytes = n;
  }
  const pids = r.int(m['pids'], [...path, 'pids']);
  if (withPids && pids !== undefined && pids !== 0) out.Pids = pids;
  return out;
}

function updateConfig(r: Reader, v: Raw | undefined, path: KeyPath, rollback: boolean): UpdateConfig | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  const out: UpdateConfig = { Parallelism: r.int(m['parallelism'], [...path, 'parallelism']) ?? 1 };
  const delay = duration(r, m['delay'], [...path, 'delay']);
  if (delay) out.Delay = delay;
  const actions = rollback ? (['pause', 'continue'] as const) : (['pause', 'continue', 'rollback'] as const);
  const action = oneOf(r, m['failure_action'], [...path, 'failure_action'], actions);
  if (action !== undefined) out.FailureAction = action;
  const monitor = duration(r, m['monitor'], [...path, 'monitor']);
  if (monitor) out.Monitor = monitor;
  out.MaxFailureRatio = r.num(m['max_failure_ratio'], [...path, 'max_failure_ratio']) ?? 0;
  const order = oneOf(r, m['order'], [...path, 'order'], ['stop-first', 'start-first'] as const);
  if (order !== undefined) out.Order = order;
  return out;
}

function restartPolicy(r: Reader, svc: RawMap, d: RawMap, path: KeyPath): TaskSpec['RestartPolicy'] {
  const m = r.map(d['restart_policy'], [...path, 'deploy', 'restart_policy']);
  if (m) {
    const at = [...path, 'deploy', 'restart_policy'];
    const out: NonNullable<TaskSpec['RestartPolicy']> = {};
    const cond = oneOf(r, m['condition'], [...at, 'condition'], ['none', 'on-failure', 'any'] as const);
    if (cond !== undefined) out.Condition = cond;
    const delay = duration(r, m['delay'], [...at, 'delay']);
    if (delay !== undefined) out.Delay = delay;
    const attempts = r.int(m['max_attempts'], [...at, 'max_attempts']);
    if (attempts !== undefined) out.MaxAttempts = attempts;
    const window = duration(r, m['window'], [...at, 'window']);
    if (window !== undefined) out.Window = window;
    return out;
  }
  // docker falls back to the container-style `restart:` when deploy.restart_policy is absent.
  const restart = r.str(svc['restart'], [...path, 'restart']);
  if (restart === undefined || restart === 'no' || restart === '') return undefined;
  const [policy, count] = restart.split(':');
  const attempts = count !== undefined ? Number(count) : 0;
  if (!Number.isSafeInteger(attempts) || attempts < 0)
    r.fail([...path, 'restart'], `has an invalid retry count "${count}"`);
  const condition =
    policy === 'always' || policy === 'unless-stopped'
      ? 'any'
      : policy === 'on-failure'
        ? 'on-failure'
        : r.fail([...path, 'restart'], 'must be one of: no, always, on-failure, unless-stopped');
  return { Condition: condition, ...(attempts > 0 ? { MaxAttempts: attempts } : {}) };
}

function healthcheck(r: Reader, v: Raw | undefined, path: KeyPath): HealthConfig | undefined {
  const m = r.map(v, path);
  if (!m) return undefined;
  const test = r.strList(m['test'], [...path, 'test']);
  if (r.bool(m['disable'], [...path, 'disable'])) {
    if (test && test.length > 0) r.fail(path, 'sets both test and disable');
    return { Test: ['NONE'] };
  }
  if (test && test.length > 0 && !['CMD', 'CMD-SHELL', 'NONE'].includes(test[0]!)) {
    r.fail([...path, 'test'], `must start with CMD, CMD-SHELL or NONE, not "${test[0]}"`);
  }
  const out: HealthConfig = {};
  if (test) out.Test = test;
  const fields = [
    ['interval', 'Interval'],
    ['timeout', 'Timeout'],
    ['start_period', 'StartPeriod'],
  ] as const;
  for (const [k, f] of fields) {
    const d = duration(r, m[k], [...path, k]);
    if (d) out[f] = d;
  }
  const retries = r.int(m['retries'], [...path, 'retries']);
  if (retries) out.Retries = retries;
  return out;
}

function mounts(c: ConvertContext, r: Reader, v: Raw | undefined, path: KeyPath): Mount[] {
  const vols = section(c, 'volumes');
  return (Array.isArray(v) ? v : []).map((item, i): Mount => {
    const at = [...path, i];
    const m = r.map(item, at) ?? {};
    const type =
      oneOf(r, m['type'], [...at, 'type'], ['volume', 'bind', 'tmpfs', 'npipe', 'cluster'] as const) ?? 'volume';
    const target = r.str(m['target'], [...at, 'target']) ?? r.fail([...at, 'target'], 'is required');
    const source = r.str(m['source'], [...at, 'source']);
    const out: Mount = { Type: type, Target: target };
    if (r.bool(m['read_only'], [...at, 'read_only'])) out.ReadOnly = true;
    const consistency = r.str(m['consistency'], [...at, 'consistency']);
    if (consistency !== undefined) out.Consistency = consistency;
    for (const other of ['bind', 'volume', 'tmpfs'] as const) {
      if (m[other] !== undefined && other !== type) r.fail([...at, other], `options do not apply to a ${type} mount`);
    }
    switch (type) {
      case 'volume': {
        const opts = r.map(m['volume'], [...at, 'volume']);
        const nocopy = opts ? r.bool(opts['nocopy'], [...at, 'volume', 'nocopy']) : undefined;
        if (source === undefined || source === '') return out;
        const def = vols[source];
        if (!isMap(def) && def !== null) r.fail([...at, 'source'], `refers to undefined volume "${source}"`);
        const vdef = isMap(def) ? def : {};
        const vpath = ['volumes', source];
        const vr: Reader = c.readerFor(vpath);
        out.Source = objectName(c, vdef, source, 'volume', vpath);
        out.VolumeOptions = nocopy ? { NoCopy: true } : {};
        if (isExternal(vr, vdef, vpath)) {
          for (const k of ['driver', 'driver_opts', 'labels']) {
            if (vdef[k] !== undefined) vr.fail(vpath, `sets both external and ${k}`);
          }
          return out;
        }
        out.VolumeOptions.Labels = withNamespace(c, vr, vdef['labels'], [...vpath, 'labels']);
        const driver = vr.str(vdef['driver'], [...vpath, 'driver']);
        const dopts = vr.dict(vdef['driver_opts'], [...vpath, 'driver_opts']);
        if (driver !== undefined || dopts) {
          out.VolumeOptions.DriverConfig = {
            ...(driver !== undefined ? { Name: driver } : {}),
            ...(dopts ? { Options: Object.fromEntries(Object.entries(dopts).map(([k, x]) => [k, x ?? ''])) } : {}),
          };
        }
        return out;
      }
      case 'bind': {
        out.Source = source ?? r.fail([...at, 'source'], 'is required for a bind mount');
        const opts = r.map(m['bind'], [...at, 'bind']);
        const prop = opts ? r.str(opts['propagation'], [...at, 'bind', 'propagation']) : undefined;
        if (prop !== undefined) out.BindOptions = { Propagation: prop };
        return out;
      }
      case 'tmpfs': {
        if (source) r.fail([...at, 'source'], 'must be empty for a tmpfs mount');
        const opts = r.map(m['tmpfs'], [...at, 'tmpfs']);
        if (opts) {
          const t: NonNullable<Mount['TmpfsOptions']> = {};
          const size = opts['size'];
          if (size !== undefined && size !== null) {
            const n = typeof size === 'number' || typeof size === 'string' ? parseBytes(size) : undefined;
            t.SizeBytes = n ?? r.fail([...at, 'tmpfs', 'size'], `must be a size like 64M, not ${JSON.stringify(size)}`);
          }
          const fmode = opts['mode'];
          if (typeof fmode === 'number') t.Mode = fmode;
          else if (typeof fmode === 'string') t.Mode = parseInt(fmode, 8);
          out.TmpfsOptions = t;
        }
        return out;
      }
      default:
        if (source !== undefined) out.Source = source;
        return out;
    }
  });
}

function serviceNetworks(c: ConvertContext, r: Reader, key: string, v: Raw | undefined, path: KeyPath) {
  const defs = section(c, 'networks');
  const entries: [string, RawMap][] =
    isMap(v) && Object.keys(v).length > 0
      ? Object.entries(v).map(([n, x]) => [n, isMap(x) ? x : {}])
      : [['default', {}]];
  const used: string[] = [];
  const attachments: NetworkAttachmentConfig[] = entries.map(([net, cfg]) => {
    const def = defs[net];
    if (def === undefined && net !== 'default') r.fail([...path, net], `refers to undefined network "${net}"`);
    used.push(net);
    const target = objectName(c, isMap(def) ? def : {}, net, 'network', ['networks', net]);
    const aliases = r.strList(cfg['aliases'], [...path, net, 'aliases']) ?? [];
    const out: NetworkAttachmentConfig = { Target: target };
    const dopts = r.dict(cfg['driver_opts'], [...path, net, 'driver_opts']);
    if (dopts) out.DriverOpts = Object.fromEntries(Object.entries(dopts).map(([k, x]) => [k, x ?? '']));
    // docker adds the service key as an alias on user-defined networks only.
    if (!['host', 'bridge', 'none', 'default'].includes(target)) out.Aliases = [...aliases, key];
    else if (aliases.length > 0) out.Aliases = aliases;
    return out;
  });
  attachments.sort((a, b) => (a.Target < b.Target ? -1 : a.Target > b.Target ? 1 : 0));
  return { attachments, used };
}

function capabilities(add: string[], drop: string[]): { add: string[]; drop: string[] } {
  const norm = (s: string): string => {
    const u = s.trim().toUpperCase();
    return u === 'ALL' || u === 'RESET' || u.startsWith('CAP_') ? u : `CAP_${u}`;
  };
  let a = new Set(add.map(norm));
  let d = new Set(drop.map(norm));
  if (a.has('ALL')) a = new Set(['ALL']);
  if (d.has('ALL')) d = new Set(['ALL']);
  return {
    add: [...a].filter((x) => x !== 'RESET').sort(),
    drop: [...d].filter((x) => x !== 'RESET' && !a.has(x)).sort(),
  };
}

export interface ConvertedService {
  spec: ServiceSpec;
  /** Network keys the service attaches to (`default` included when it names none). */
  networks: string[];
  secretKeys: string[];
  configKeys: string[];
}

export function convertService(c: ConvertContext, key: string, svc: RawMap, inputs: ServiceInputs): ConvertedService {
  const path = ['services', key];
  const r: Reader = c.readerFor(path);
  const at = (...k: (string | number)[]): KeyPath => [...path, ...k];
  const image = r.str(svc['image'], at('image'));
  if (!image) r.fail(at('image'), 'is required (swarm services run an image; build is not supported)');
  const d = r.map(svc['deploy'], at('deploy')) ?? {};

  const cs: ContainerSpec = { Image: image, Labels: withNamespace(c, r, svc['labels'], at('labels')) };
  const entrypoint = r.strList(svc['entrypoint'], at('entrypoint'));
  if (entrypoint && entrypoint.length > 0) cs.Command = entrypoint;
  const command = r.strList(svc['command'], at('command'));
  if (command && command.length > 0) cs.Args = command;
  const hostname = r.str(svc['hostname'], at('hostname'));
  if (hostname !== undefined) cs.Hostname = hostname;
  const env = r.map(svc['environment'], at('environment'));
  if (env) {
    cs.Env = Object.entries(env)
      .map(([k, v]) => (v === null ? k : `${k}=${String(v)}`))
      .sort();
  }
  const dir = r.str(svc['working_dir'], at('working_dir'));
  if (dir !== undefined) cs.Dir = dir;
  const user = r.str(svc['user'], at('user'));
  if (user !== undefined) cs.User = user;
  const init = r.bool(svc['init'], at('init'));
  if (init !== undefined) cs.Init = init;
  if (r.bool(svc['tty'], at('tty'))) cs.TTY = true;
  if (r.bool(svc['stdin_open'], at('stdin_open'))) cs.OpenStdin = true;
  if (r.bool(svc['read_only'], at('read_only'))) cs.ReadOnly = true;
  const ms = mounts(c, r, svc['volumes'], at('volumes'));
  if (ms.length > 0) cs.Mounts = ms;
  const stopSignal = r.str(svc['stop_signal'], at('stop_signal'));
  if (stopSignal !== undefined) cs.StopSignal = stopSignal;
  const grace = duration(r, svc['stop_grace_period'], at('stop_grace_period'));
  if (grace !== undefined) cs.StopGracePeriod = grace;
  const health = healthcheck(r, svc['healthcheck'], at('healthcheck'));
  if (health) cs.Healthcheck = health;
  const hosts = r.strList(svc['extra_hosts'], at('extra_hosts'));
  if (hosts && hosts.length > 0) {
    cs.Hosts = hosts.map((h) => {
      const i = h.indexOf(':');
      return `${h.slice(i + 1)} ${h.slice(0, i)}`;
    });
  }
  const dns = r.strList(svc['dns'], at('dns')) ?? [];
  const search = r.strList(svc['dns_search'], at('dns_search')) ?? [];
  if (dns.length > 0 || search.length > 0) {
    cs.DNSConfig = {
      ...(dns.length > 0 ? { Nameservers: dns } : {}),
      ...(search.length > 0 ? { Search: search } : {}),
    };
  }
  const sysctls = r.map(svc['sysctls'], at('sysctls'));
  if (sysctls && Object.keys(sysctls).length > 0) {
    cs.Sysctls = Object.fromEntries(Object.entries(sysctls).map(([k, v]) => [k, String(v)]));
  }
  const caps = capabilities(
    r.strList(svc['cap_add'], at('cap_add')) ?? [],
    r.strList(svc['cap_drop'], at('cap_drop')) ?? [],
  );
  if (caps.add.length > 0) cs.CapabilityAdd = caps.add;
  if (caps.drop.length > 0) cs.CapabilityDrop = caps.drop;
  const isolation = r.str(svc['isolation'], at('isolation'));
  if (isolation !== undefined) cs.Isolation = isolation;
  const oom = r.int(svc['oom_score_adj'], at('oom_score_adj'), -1000);
  if (oom !== undefined) cs['OomScoreAdj'] = oom;
  const ulimits = r.map(svc['ulimits'], at('ulimits'));
  if (ulimits && Object.keys(ulimits).length > 0) {
    cs['Ulimits'] = Object.keys(ulimits)
      .sort()
      .map((name) => {
        const u = ulimits[name];
        if (isMap(u)) {
          return {
            Name: name,
            Soft: r.int(u['soft'], at('ulimits', name, 'soft'), -1) ?? 0,
            Hard: r.int(u['hard'], at('ulimits', name, 'hard'), -1) ?? 0,
          };
        }
        const n = r.int(u, at('ulimits', name), -1) ?? 0;
        return { Name: name, Soft: n, Hard: n };
      });
  }
  const secrets = fileRefs(r, svc['secrets'], at('secrets'), inputs.secrets, 'secret');
  if (secrets.length > 0) {
    cs.Secrets = secrets.map((s): SecretReference => ({ File: s.file, SecretID: '', SecretName: s.name }));
  }
  const configs = fileRefs(r, svc['configs'], at('configs'), inputs.configs, 'config');
  if (configs.length > 0) {
    cs.Configs = configs.map((s): ConfigReference => ({ File: s.file, ConfigID: '', ConfigName: s.name }));
  }

  const net = serviceNetworks(c, r, key, svc['networks'], at('networks'));
  const placement = r.map(d['placement'], at('deploy', 'placement')) ?? {};
  const constraints = r.strList(placement['constraints'], at('deploy', 'placement', 'constraints'));
  const prefs = Array.isArray(placement['preferences']) ? placement['preferences'] : [];
  const maxReplicas = r.int(placement['max_replicas_per_node'], at('deploy', 'placement', 'max_replicas_per_node'));
  const res = r.map(d['resources'], at('deploy', 'resources')) ?? {};
  const limits = resources(r, res['limits'], at('deploy', 'resources', 'limits'), true);
  const reservations = resources(r, res['reservations'], at('deploy', 'resources', 'reservations'), false);
  const logging = r.map(svc['logging'], at('logging'));

  const task: TaskSpec = {
    ContainerSpec: cs,
    Resources: { ...(limits ? { Limits: limits } : {}), ...(reservations ? { Reservations: reservations } : {}) },
    Placement: {
      ...(constraints && constraints.length > 0 ? { Constraints: constraints } : {}),
      ...(prefs.length > 0
        ? {
            Preferences: prefs.map((p, i) => {
              const m = r.map(p, at('deploy', 'placement', 'preferences', i)) ?? {};
              const spread = r.str(m['spread'], at('deploy', 'placement', 'preferences', i, 'spread'));
              return { Spread: { SpreadDescriptor: spread ?? '' } };
            }),
          }
        : {}),
      ...(maxReplicas ? { MaxReplicas: maxReplicas } : {}),
    },
    Networks: net.attachments,
  };
  const policy = restartPolicy(r, svc, d, path);
  if (policy) task.RestartPolicy = policy;
  if (logging) {
    const opts = r.dict(logging['options'], at('logging', 'options'));
    task.LogDriver = {
      Name: r.str(logging['driver'], at('logging', 'driver')) ?? '',
      ...(opts ? { Options: Object.fromEntries(Object.entries(opts).map(([k, v]) => [k, v ?? ''])) } : {}),
    };
  }

  const ports: PortConfig[] = (Array.isArray(svc['ports']) ? svc['ports'] : []).filter(isMap).map((p) => {
    const out: PortConfig = {
      Protocol: p['protocol'] === 'udp' ? 'udp' : p['protocol'] === 'sctp' ? 'sctp' : 'tcp',
      TargetPort: Number(p['target']),
      PublishMode: p['mode'] === 'host' ? 'host' : 'ingress',
    };
    if (typeof p['published'] === 'number') out.PublishedPort = p['published'];
    return out;
  });
  ports.sort(
    (a, b) =>
      (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0) ||
      a.TargetPort - b.TargetPort ||
      String(a.Protocol).localeCompare(String(b.Protocol)) ||
      String(a.PublishMode).localeCompare(String(b.PublishMode)),
  );
  const endpointMode = oneOf(r, d['endpoint_mode'], at('deploy', 'endpoint_mode'), ['vip', 'dnsrr'] as const);

  const spec: ServiceSpec = {
    Name: `${c.namespace}_${key}`,
    Labels: { ...withNamespace(c, r, d['labels'], at('deploy', 'labels')), [IMAGE_LABEL]: image },
    TaskTemplate: task,
    Mode: mode(r, d, at('deploy')),
    EndpointSpec: { ...(endpointMode ? { Mode: endpointMode } : {}), ...(ports.length > 0 ? { Ports: ports } : {}) },
  };
  const update = updateConfig(r, d['update_config'], at('deploy', 'update_config'), false);
  if (update) spec.UpdateConfig = update;
  const rollback = updateConfig(r, d['rollback_config'], at('deploy', 'rollback_config'), true);
  if (rollback) spec.RollbackConfig = rollback;
  const secretKeys = (Array.isArray(svc['secrets']) ? svc['secrets'] : [])
    .filter(isMap)
    .map((m) => String(m['source']));
  const configKeys = (Array.isArray(svc['configs']) ? svc['configs'] : [])
    .filter(isMap)
    .map((m) => String(m['source']));
  return { spec, networks: net.used, secretKeys, configKeys };
}
