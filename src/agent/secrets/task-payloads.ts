/**
 * The pure half of putting a task's secrets and configs in its container: which file each reference
 * becomes in the task's tmpfs, and the read-only bind mount that shows it at its target. The data
 * comes from the agent's memory (what the dispatcher sent with the assignments).
 */
import { targetPath } from '../../manager/controlapi/references.js';
import type { AssignedPayload } from '../../manager/dispatcher/session.js';
import type { Mount, TaskObject } from '../../store/types.js';

/** One file of a task's tmpfs: its name there, its bytes (base64), owner and mode. */
export interface PayloadFile {
  readonly file: string;
  readonly data: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  /** Where it appears in the container. */
  readonly target: string;
}

/** The files a task needs; fails with swarmkit's wording when the node was not given one. */
export function payloadFilesOf(task: TaskObject, held: ReadonlyMap<string, AssignedPayload>): PayloadFile[] {
  const c = task.Spec.ContainerSpec;
  const out: PayloadFile[] = [];
  const refs = [
    ...(c?.Secrets ?? []).map((r) => ({ kind: 'secret' as const, id: r.SecretID, name: r.SecretName, f: r.File })),
    ...(c?.Configs ?? []).map((r) => ({ kind: 'config' as const, id: r.ConfigID, name: r.ConfigName, f: r.File })),
  ];
  refs.forEach((r, i) => {
    const p = held.get(`${r.kind}:${r.id}`);
    if (!p) throw new Error(`${r.kind} ${r.name} not found`);
    // Files are named by position: two references to one secret may differ in owner or mode.
    out.push({
      file: `${r.kind}-${i}`,
      data: p.data,
      uid: Number(r.f.UID),
      gid: Number(r.f.GID),
      mode: r.f.Mode,
      target: targetPath(r.kind, r.f.Name),
    });
  });
  return out;
}

/** The task as the executor creates it: the files bind-mounted read-only at their targets. */
export function withPayloadMounts(task: TaskObject, dir: string, files: readonly PayloadFile[]): TaskObject {
  if (files.length === 0 || !task.Spec.ContainerSpec) return task;
  const mounts: Mount[] = files.map((f) => ({
    Type: 'bind',
    Source: `${dir}/${f.file}`,
    Target: f.target,
    ReadOnly: true,
  }));
  const spec = { ...task.Spec.ContainerSpec, Mounts: [...(task.Spec.ContainerSpec.Mounts ?? []), ...mounts] };
  return { ...task, Spec: { ...task.Spec, ContainerSpec: spec } };
}
