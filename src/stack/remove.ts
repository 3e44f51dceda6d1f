/**
 * `stack rm`: the stack's services, then its secrets, configs and networks, each reported as docker
 * reports it; what fails is named and the rest still goes.
 */
import { labelFilter, type StackApi } from './stack-api.js';

interface Named {
  ID?: string;
  Id?: string;
  Name?: string;
  Spec?: { Name: string };
}

export interface RemoveResult {
  /** False when the stack had no object at all (`Nothing found in stack: NS`). */
  found: boolean;
  /** Docker's `Failed to remove ...` lines. */
  failures: string[];
}

const nameOf = (o: Named): string => o.Spec?.Name ?? o.Name ?? '';
const idOf = (o: Named): string => o.ID ?? o.Id ?? '';
const byName = (a: Named, b: Named): number => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0);

export async function removeStack(
  api: StackApi,
  namespace: string,
  out: (line: string) => void,
): Promise<RemoveResult> {
  const q = labelFilter(namespace);
  const [services, networks, secrets, configs] = await Promise.all([
    api.get<Named[]>(`/services?${q}`),
    api.get<Named[]>(`/networks?${q}`),
    api.get<Named[]>(`/secrets?${q}`),
    api.get<Named[]>(`/configs?${q}`),
  ]);
  if (!services.length && !networks.length && !secrets.length && !configs.length) return { found: false, failures: [] };
  const failures: string[] = [];
  for (const [kind, list] of [
    ['service', services],
    ['secret', secrets],
    ['config', configs],
    ['network', networks],
  ] as const) {
    for (const o of [...list].sort(byName)) {
      out(`Removing ${kind} ${nameOf(o)}`);
      try {
        await api.del(`/${kind}s/${idOf(o)}`);
      } catch (e) {
        failures.push(`Failed to remove ${kind} ${nameOf(o)}: ${(e as Error).message}`);
      }
    }
  }
  return { found: true, failures };
}
