/**
 * `loadStack`: compose files → the Engine API bodies of a stack. Pure apart from `opts.readFile`.
 * Per file: parse YAML (anchors, merge keys), check the version, refuse keys docker refuses,
 * interpolate, validate against the compose schema, normalize (normalize.ts). Then merge the files
 * (merge.ts), convert (convert.ts) and check depends_on. Any problem throws a StackFileError before
 * anything is returned, so a caller that creates objects only from the result creates nothing.
 */
import { posix } from 'node:path';
import { parseDocument, type Tags } from 'yaml';
import { convertNetworks, convertPayloads, convertService, type ConvertContext } from './convert.js';
import { findCycle, dependencies } from './depends.js';
import { StackFileError, type KeyPath } from './errors.js';
import { interpolate, missingVariableWarning, parseEnvFile, type Lookup, type Substitution } from './interpolate.js';
import { mergeDocuments } from './merge.js';
import {
  DEPRECATED,
  FORBIDDEN,
  SUPPORTED,
  normalizeDefinitions,
  normalizePayloads,
  normalizeService,
  type FileContext,
} from './normalize.js';
import { isMap, Reader, toRaw, type RawMap } from './raw.js';
import { validateSchema } from './schema.js';
import type { ComposeFile, LoadOptions, Stack, StackService } from './types.js';

export { StackFileError } from './errors.js';

/** docker's list of service keys swarm ignores (it warns and goes on). */
const DOCKER_UNSUPPORTED = [
  'build',
  'cgroupns_mode',
  'cgroup_parent',
  'devices',
  'domainname',
  'external_links',
  'ipc',
  'links',
  'mac_address',
  'network_mode',
  'pid',
  'privileged',
  'restart',
  'security_opt',
  'shm_size',
  'userns_mode',
];

/** `0644`-style integers are octal, as in YAML 1.1 and docker's parser (file modes are written so). */
const octal = {
  identify: (v: unknown) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^0[0-7]+$/,
  resolve: (s: string) => parseInt(s, 8),
};

function parse(file: ComposeFile): RawMap {
  const doc = parseDocument(file.content, {
    merge: true,
    uniqueKeys: true,
    customTags: (tags: Tags) => [octal, ...tags],
  });
  const err = doc.errors[0];
  if (err) {
    const at = err.linePos?.[0];
    const where = at ? `line ${at.line}, column ${at.col}: ` : '';
    const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new StackFileError(file.path, [], `not valid YAML: ${where}${what}`);
  }
  const raw = toRaw(file.path, doc.toJS({ maxAliasCount: 10000 }));
  if (!isMap(raw)) throw new StackFileError(file.path, [], 'the top level must be a mapping');
  return raw;
}

function checkVersion(r: Reader, doc: RawMap): void {
  const v = doc['version'];
  if (v === undefined || v === null) return;
  const s = String(v);
  if (!/^3(\.\d+)?$/.test(s)) {
    r.fail(['version'], `"${s}" is not supported: use a 3.x version or leave version out`);
  }
}

function unsupportedKeys(services: RawMap): { ignored: Set<string>; deprecated: Set<string> } {
  const ignored = new Set<string>();
  const deprecated = new Set<string>();
  for (const svc of Object.values(services)) {
    if (!isMap(svc)) continue;
    for (const k of Object.keys(svc)) {
      if (k.startsWith('x-')) continue;
      if (k in DEPRECATED) deprecated.add(k);
      else if (DOCKER_UNSUPPORTED.includes(k) || !SUPPORTED.has(k)) ignored.add(k);
    }
  }
  return { ignored, deprecated };
}

interface LoadedFile {
  doc: RawMap;
  r: Reader;
}

function loadFile(
  file: ComposeFile,
  opts: LoadOptions,
  lookup: Lookup,
  sub: Substitution,
  ignored: Set<string>,
  deprecated: Set<string>,
): LoadedFile {
  const r = new Reader(file.path);
  const parsed = parse(file);
  checkVersion(r, parsed);
  if (parsed['include'] !== undefined) r.fail(['include'], 'is not supported by stack deploy');
  const services = isMap(parsed['services']) ? parsed['services'] : {};
  for (const [key, svc] of Object.entries(services)) {
    if (!isMap(svc)) continue;
    for (const k of Object.keys(svc).sort()) {
      const why = FORBIDDEN[k];
      if (why !== undefined) r.fail(['services', key, k], `is not supported by swarm: ${why}`);
    }
  }
  const interpolated = interpolate(r, parsed, [], sub);
  if (!isMap(interpolated)) return r.fail([], 'the top level must be a mapping');
  validateSchema(file.path, interpolated);
  const found = unsupportedKeys(isMap(interpolated['services']) ? interpolated['services'] : {});
  found.ignored.forEach((k) => ignored.add(k));
  found.deprecated.forEach((k) => deprecated.add(k));

  const dir = posix.dirname(posix.isAbsolute(file.path) ? file.path : posix.join(opts.cwd ?? '/', file.path));
  const c: FileContext = { r, dir, lookup, readFile: opts.readFile };
  const doc: RawMap = {};
  const svcs = isMap(interpolated['services']) ? interpolated['services'] : {};
  const out: RawMap = {};
  for (const [key, svc] of Object.entries(svcs)) {
    if (key.startsWith('x-')) continue;
    out[key] = normalizeService(c, isMap(svc) ? svc : {}, ['services', key]);
  }
  doc['services'] = out;
  for (const k of ['networks', 'volumes'] as const) {
    const v = normalizeDefinitions(c, interpolated[k], [k]);
    if (v) doc[k] = v;
  }
  for (const k of ['secrets', 'configs'] as const) {
    const v = normalizePayloads(c, interpolated[k], [k]);
    if (v) doc[k] = v;
  }
  return { doc, r };
}

/** Variables: the given environment first, then the `.env` file next to the first compose file. */
function variables(files: ComposeFile[], opts: LoadOptions): Lookup {
  const first = files[0]!;
  const dir = posix.dirname(posix.isAbsolute(first.path) ? first.path : posix.join(opts.cwd ?? '/', first.path));
  const dotenv = new Map<string, string>();
  let text: string | undefined;
  try {
    text = opts.readFile(posix.join(dir, '.env'));
  } catch {
    text = undefined; // no .env: only the environment counts
  }
  if (text !== undefined) {
    const parsed = parseEnvFile(text, true, (n) => opts.env[n]);
    if (parsed.bad !== undefined) {
      throw new StackFileError(posix.join(dir, '.env'), [], `invalid variable name on line ${parsed.bad}`);
    }
    for (const [k, v] of parsed.vars) dotenv.set(k, v);
  }
  return (name) => opts.env[name] ?? dotenv.get(name);
}

/**
 * Reads the compose files of one stack, later files overriding earlier ones, and returns what
 * `stack deploy NAMESPACE` creates. Throws StackFileError for any invalid file.
 */
export function loadStack(namespace: string, files: ComposeFile[], opts: LoadOptions): Stack {
  if (files.length === 0) throw new StackFileError('(no file)', [], 'no compose file given');
  const lookup = variables(files, opts);
  const sub: Substitution = { lookup, missing: new Set() };
  const ignored = new Set<string>();
  const deprecated = new Set<string>();
  const loaded = files.map((f) => loadFile(f, opts, lookup, sub, ignored, deprecated));

  // Errors after the merge name the last file that defined the object in question.
  let doc: RawMap = {};
  const owner = new Map<string, Reader>();
  for (const { doc: d, r } of loaded) {
    doc = mergeDocuments(doc, d);
    for (const section of ['services', 'networks', 'volumes', 'secrets', 'configs']) {
      const s = d[section];
      if (isMap(s)) for (const k of Object.keys(s)) owner.set(`${section}.${k}`, r);
    }
  }
  const fallback = loaded[loaded.length - 1]!.r;
  const readerFor = (path: KeyPath): Reader => owner.get(`${String(path[0])}.${String(path[1])}`) ?? fallback;
  const c: ConvertContext = { namespace, doc, lookup, readFile: opts.readFile, readerFor };

  const secrets = convertPayloads(c, 'secrets');
  const configs = convertPayloads(c, 'configs');
  const services = isMap(doc['services']) ? doc['services'] : {};
  const usedNetworks = new Set<string>();
  const externalSecrets = new Set<string>();
  const externalConfigs = new Set<string>();
  const graph = new Map<string, string[]>();
  const out: StackService[] = [];
  for (const key of Object.keys(services).sort()) {
    const svc = services[key];
    if (!isMap(svc)) continue;
    const converted = convertService(c, key, svc, { secrets, configs });
    converted.networks.forEach((n) => usedNetworks.add(n));
    for (const k of converted.secretKeys) if (secrets.externalKeys.has(k)) externalSecrets.add(secrets.names.get(k)!);
    for (const k of converted.configKeys) if (configs.externalKeys.has(k)) externalConfigs.add(configs.names.get(k)!);
    const deps = dependencies(readerFor(['services', key]), namespace, key, svc, services);
    if (deps.length > 0) converted.spec.DependsOn = deps;
    graph.set(
      key,
      deps.map((d) => d.Service.slice(namespace.length + 1)),
    );
    out.push({ name: converted.spec.Name, spec: converted.spec });
  }
  const cycle = findCycle(graph);
  if (cycle) {
    throw new StackFileError(readerFor(['services', cycle[0]!]).file, [], `dependency cycle: ${cycle.join(' -> ')}`);
  }
  const networks = convertNetworks(c, usedNetworks);

  const warnings: string[] = [...sub.missing].map(missingVariableWarning);
  if (ignored.size > 0) warnings.push(`Ignoring unsupported options: ${[...ignored].sort().join(', ')}`);
  if (deprecated.size > 0) {
    const lines = [...deprecated].sort().map((k) => `${k}: ${DEPRECATED[k]}`);
    warnings.push(`Ignoring deprecated options:\n\n${lines.join('\n\n')}`);
  }
  return {
    namespace,
    networks: networks.networks,
    externalNetworks: networks.external,
    secrets: secrets.payloads,
    configs: configs.payloads,
    externalSecrets: [...externalSecrets].sort(),
    externalConfigs: [...externalConfigs].sort(),
    services: out,
    warnings,
  };
}
