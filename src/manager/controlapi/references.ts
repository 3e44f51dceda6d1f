/**
 * A service's `--secret` and `--config` references, resolved and checked in the create or update
 * transaction: each names an existing object (SecretID and SecretName filled, as Docker's daemon
 * fills them), has a target inside the allowed paths that no other reference of the same kind uses,
 * and a numeric uid/gid and a permission-only mode. A refusal changes nothing.
 */
import { posix } from 'node:path';
import type { ConfigObject, FileTarget, SecretObject, ServiceSpec } from '../../store/types.js';
import type { PayloadKind } from './payload.js';
import { rpcError } from './rpc-errors.js';

/** Where a relative secret target lands in the container (Docker's containerSecretMountPath). */
export const SECRETS_DIR = '/run/secrets';
const UINT32 = 2 ** 32 - 1;

/** The absolute path a reference's file takes in the container: secrets under /run/secrets, configs under /. */
export function targetPath(kind: PayloadKind, name: string): string {
  return posix.isAbsolute(name) ? posix.normalize(name) : posix.join(kind === 'secret' ? SECRETS_DIR : '/', name);
}

function checkTarget(kind: PayloadKind, file: FileTarget): void {
  const bad = (): never => {
    throw rpcError('invalid_argument', `malformed file ${kind} reference, invalid target file name provided`);
  };
  if (!file.Name || file.Name.includes('\0')) bad();
  const path = targetPath(kind, file.Name);
  // A relative target stays inside the secrets directory; no target may be a directory-like path.
  if (path === '/' || path.endsWith('/') || file.Name.split('/').includes('..')) bad();
  if (kind === 'secret' && !posix.isAbsolute(file.Name) && !path.startsWith(`${SECRETS_DIR}/`)) bad();
  for (const [field, v] of [
    ['UID', file.UID],
    ['GID', file.GID],
  ] as const) {
    if (!/^\d{1,10}$/.test(v) || Number(v) > UINT32) {
      throw rpcError(
        'invalid_argument',
        `malformed ${kind} reference: invalid ${field} ${JSON.stringify(v)}: must be a number between 0 and ${UINT32}`,
      );
    }
  }
  if (!Number.isInteger(file.Mode) || file.Mode < 0 || file.Mode > 0o777) {
    throw rpcError(
      'invalid_argument',
      `malformed ${kind} reference: invalid mode 0${file.Mode.toString(8)}: only permission bits (0000-0777) are allowed`,
    );
  }
}

interface RefLike {
  File?: Partial<FileTarget>;
  id: string;
  name: string;
}

function resolveKind(
  kind: PayloadKind,
  refs: RefLike[],
  objects: readonly (SecretObject | ConfigObject)[],
): { file: FileTarget; id: string; name: string }[] {
  const missing: string[] = [];
  const out = refs.map((r) => {
    const o = r.id ? objects.find((x) => x.ID === r.id) : objects.find((x) => x.Spec.Name === r.name);
    // As swarmkit: the object must exist and the name given must be its name.
    if (!o || (r.name && o.Spec.Name !== r.name)) {
      missing.push(r.name || r.id);
      return undefined;
    }
    const file: FileTarget = {
      Name: r.File?.Name ?? o.Spec.Name,
      UID: r.File?.UID || '0',
      GID: r.File?.GID || '0',
      Mode: r.File?.Mode ?? 0o444,
    };
    return { file, id: o.ID, name: o.Spec.Name };
  });
  if (missing.length > 0)
    throw rpcError('invalid_argument', `${missing.length === 1 ? kind : `${kind}s`} not found: ${missing.join(', ')}`);
  const resolved = out.filter((x): x is NonNullable<typeof x> => x !== undefined);
  const seen = new Map<string, string>();
  for (const r of resolved) {
    checkTarget(kind, r.file);
    const path = targetPath(kind, r.file.Name);
    const prev = seen.get(path);
    if (prev !== undefined)
      throw rpcError(
        'invalid_argument',
        `${kind} references '${prev}' and '${r.name}' have a conflicting target: '${r.file.Name}'`,
      );
    seen.set(path, r.name);
  }
  return resolved;
}

/** Resolves the spec's references in place against the store's secrets and configs. */
export function resolveReferences(
  spec: ServiceSpec,
  secrets: readonly SecretObject[],
  configs: readonly ConfigObject[],
): void {
  const c = spec.TaskTemplate.ContainerSpec;
  if (!c) return;
  if (c.Secrets?.length) {
    c.Secrets = resolveKind(
      'secret',
      c.Secrets.map((r) => ({ File: r.File, id: r.SecretID, name: r.SecretName })),
      secrets,
    ).map((r) => ({
      File: r.file,
      SecretID: r.id,
      SecretName: r.name,
    }));
  } else delete c.Secrets;
  if (c.Configs?.length) {
    c.Configs = resolveKind(
      'config',
      c.Configs.map((r) => ({ File: r.File, id: r.ConfigID, name: r.ConfigName })),
      configs,
    ).map((r) => ({
      File: r.file,
      ConfigID: r.id,
      ConfigName: r.name,
    }));
  } else delete c.Configs;
}
