/** Parsing docker's flag values: durations, memory sizes, CPUs, ports, mounts, key=value lists, external CAs. */
import { readFile } from 'node:fs/promises';
import type { Mount, PortConfig } from '../store/types.js';
import { CliError } from './client.js';

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration: `10s`, `1m30s`, `500ms`, `1.5h`; a bare 0 is allowed. */
export function parseDuration(s: string): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched !== s.length || s.length === 0)
    throw new CliError(`invalid argument "${s}": time: invalid duration "${s}"`);
  return Math.round(total);
}

/** docker's RAMInBytes: binary units, `64m`, `1g`, `512k`, plain bytes. */
export function parseMemory(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(s.trim());
  if (!m) throw new CliError(`invalid argument "${s}": invalid size: '${s}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[
    m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't' | 'p'
  ];
  return Math.round(Number(m[1]) * mult);
}

/** An unsigned integer flag, with docker's message for anything else. */
export function parseUint(flag: string, s: string): number {
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)))
    throw new CliError(`invalid argument "${s}" for "${flag}" flag: strconv.ParseUint: parsing "${s}": invalid syntax`);
  return Number(s);
}

export function parseCpus(s: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0)
    throw new CliError(`invalid argument "${s}": failed to parse ${s} as a rational number`);
  return Math.round(n * 1e9);
}

/** `8080:80`, `8080:80/udp`, or `published=8080,target=80,protocol=tcp,mode=host`. */
export function parsePublish(s: string): PortConfig {
  if (s.includes('=')) {
    const p: Partial<PortConfig> = { Protocol: 'tcp', PublishMode: 'ingress' };
    for (const kv of s.split(',')) {
      const [k, v = ''] = kv.split('=');
      switch (k) {
        case 'published':
          p.PublishedPort = Number(v);
          break;
        case 'target':
          p.TargetPort = Number(v);
          break;
        case 'protocol':
          p.Protocol = v as PortConfig['Protocol'];
          break;
        case 'mode':
          p.PublishMode = v as PortConfig['PublishMode'];
          break;
        default:
          throw new CliError(`invalid argument "${s}" for "-p, --publish" flag: invalid field key ${k}`);
      }
    }
    if (!p.TargetPort)
      throw new CliError(`invalid argument "${s}" for "-p, --publish" flag: missing mandatory field "target"`);
    return p as PortConfig;
  }
  const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp|sctp))?$/.exec(s);
  if (!m) throw new CliError(`invalid argument "${s}" for "-p, --publish" flag: invalid port format`);
  const p: PortConfig = {
    Protocol: (m[3] as PortConfig['Protocol']) ?? 'tcp',
    TargetPort: Number(m[2]),
    PublishMode: 'ingress',
  };
  if (m[1]) p.PublishedPort = Number(m[1]);
  return p;
}

/** `type=bind,source=/a,target=/b,readonly` (also src/dst/destination, ro). */
export function parseMount(s: string): Mount {
  const m: Partial<Mount> = { Type: 'volume' };
  for (const kv of s.split(',')) {
    const [k = '', v] = kv.split('=');
    switch (k.toLowerCase()) {
      case 'type':
        m.Type = v as Mount['Type'];
        break;
      case 'source':
      case 'src':
        m.Source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = v;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = v === undefined || v === 'true' || v === '1';
        break;
      case 'tmpfs-size':
        m.TmpfsOptions = { ...(m.TmpfsOptions ?? {}), SizeBytes: parseMemory(v ?? '') };
        break;
      case 'volume-nocopy':
        m.VolumeOptions = { ...(m.VolumeOptions ?? {}), NoCopy: v === undefined || v === 'true' };
        break;
      default:
        throw new CliError(`invalid argument "${s}" for "--mount" flag: unexpected key '${k}' in '${kv}'`);
    }
  }
  if (!m.Target) throw new CliError(`invalid argument "${s}" for "--mount" flag: target is required`);
  return m as Mount;
}

export function parseKeyValues(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i < 0) out[kv] = '';
    else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Commander collector for repeatable flags. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** `--external-ca protocol=cfssl,url=https://...[,cacert=FILE]`, as the docker CLI takes it. */
export async function parseExternalCA(s: string): Promise<{ Protocol: string; URL: string; CACert?: string }> {
  const fields = new Map<string, string>();
  for (const part of s.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) throw new CliError(`invalid field '${part}' must be a key=value pair`);
    fields.set(part.slice(0, i).toLowerCase(), part.slice(i + 1));
  }
  const protocol = fields.get('protocol');
  const url = fields.get('url');
  if (!protocol) throw new CliError('the external-ca option needs a protocol= parameter');
  if (protocol.toLowerCase() !== 'cfssl') throw new CliError(`unrecognized external CA protocol ${protocol}`);
  if (!url) throw new CliError('the external-ca option needs a url= parameter');
  const cacert = fields.get('cacert');
  return { Protocol: 'cfssl', URL: url, ...(cacert ? { CACert: await readFile(cacert, 'utf8') } : {}) };
}
