/**
 * The secrets and configs a node may hold: exactly those referenced by its tasks that may still
 * start a container (not finished, desired to run). Nothing else reaches it, and a secret drops out
 * of its next assignments as soon as no such task needs it (swarmkit's dispatcher does the same).
 */
import { isTerminal, stateRank, type ConfigObject, type SecretObject, type TaskObject } from '../../store/types.js';
import type { AssignedPayload } from './session.js';

export interface PayloadSources {
  readonly secrets: readonly SecretObject[];
  readonly configs: readonly ConfigObject[];
}

function needsFiles(t: TaskObject): boolean {
  return !isTerminal(t.Status.State) && stateRank(t.DesiredState) <= stateRank('running');
}

export function payloadsFor(tasks: readonly TaskObject[], all: PayloadSources): AssignedPayload[] {
  const secretIds = new Set<string>();
  const configIds = new Set<string>();
  for (const t of tasks) {
    if (!needsFiles(t)) continue;
    for (const r of t.Spec.ContainerSpec?.Secrets ?? []) secretIds.add(r.SecretID);
    for (const r of t.Spec.ContainerSpec?.Configs ?? []) configIds.add(r.ConfigID);
  }
  const out: AssignedPayload[] = [];
  for (const s of all.secrets) if (secretIds.has(s.ID)) out.push({ kind: 'secret', id: s.ID, data: s.Spec.Data });
  for (const c of all.configs) if (configIds.has(c.ID)) out.push({ kind: 'config', id: c.ID, data: c.Spec.Data });
  return out;
}

/** What identifies a payload set without its data (the fan-out compares sets to skip repeats). */
export function payloadsKey(p: readonly AssignedPayload[]): string {
  return p.map((x) => `${x.kind}:${x.id}`).join(',');
}
