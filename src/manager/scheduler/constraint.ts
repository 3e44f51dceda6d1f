/** Placement constraints (`node.labels.zone==east`): parsing, validation and matching against a node. */
import { invalidArgument } from '../../common/errors.js';
import type { NodeObject } from '../../store/types.js';

export interface Constraint {
  readonly key: string;
  readonly op: '==' | '!=';
  readonly value: string;
}

const KNOWN = ['node.id', 'node.hostname', 'node.ip', 'node.role', 'node.platform.os', 'node.platform.arch'];

/** Parses constraint expressions; throws invalid_argument with Docker-like wording for bad ones. */
export function parseConstraints(exprs: readonly string[]): Constraint[] {
  return exprs.map((expr) => {
    const m = /^\s*([^=!\s]+)\s*(==|!=)\s*(.*?)\s*$/.exec(expr);
    if (!m || !m[3]) throw invalidArgument(`invalid constraint: ${expr}`);
    const key = m[1]!;
    if (!KNOWN.includes(key.toLowerCase()) && !/^(node|engine)\.labels\.[^.].*/.test(key)) {
      throw invalidArgument(`constraint expected one operator from ==, !=; invalid key: ${key}`);
    }
    return { key, op: m[2] as '==' | '!=', value: m[3] };
  });
}

function ipInCidr(ip: string, cidr: string): boolean {
  const toInt = (s: string): number | undefined => {
    const parts = s.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
    return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  };
  const [net, bitsStr] = cidr.split('/');
  const a = toInt(ip);
  const b = toInt(net ?? '');
  if (a === undefined || b === undefined) return ip === cidr;
  const bits = bitsStr === undefined ? 32 : Number(bitsStr);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (a & mask) === (b & mask);
}

function nodeValue(key: string, node: NodeObject): string | undefined {
  const k = key.toLowerCase();
  switch (k) {
    case 'node.id':
      return node.ID;
    case 'node.hostname':
      return node.Spec.Name || node.Description.Hostname;
    case 'node.ip':
      return node.Status.Addr;
    case 'node.role':
      return node.Spec.Role;
    case 'node.platform.os':
      return node.Description.Platform.OS;
    case 'node.platform.arch':
      return node.Description.Platform.Architecture;
  }
  if (key.startsWith('node.labels.')) return node.Spec.Labels[key.slice('node.labels.'.length)];
  if (key.startsWith('engine.labels.')) return node.Description.Engine.Labels?.[key.slice('engine.labels.'.length)];
  return undefined;
}

/** All constraints must hold. Values compare case-insensitively, as swarmkit does (labels exactly). */
export function constraintsHold(constraints: readonly Constraint[], node: NodeObject): boolean {
  return constraints.every((c) => {
    const actual = nodeValue(c.key, node);
    let equal: boolean;
    if (c.key.toLowerCase() === 'node.ip') equal = actual !== undefined && ipInCidr(actual, c.value);
    else if (c.key.includes('.labels.')) equal = actual !== undefined && actual === c.value;
    else equal = actual !== undefined && actual.toLowerCase() === c.value.toLowerCase();
    return c.op === '==' ? equal : !equal;
  });
}
