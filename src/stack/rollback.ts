/**
 * `shoal stack rollback NS` (docker/cli#595): every service the last `shoal stack deploy` changed goes
 * back to its previous spec in one step. The services a deploy touched carry its generation in a
 * label, so a service the last deploy left alone is not rolled back to an older deploy's spec.
 */
import type { ServiceSpec } from '../store/types.js';
import { StackDeployError, type DeployedService } from './deploy.js';
import { generationOf, labelFilter, type StackApi } from './stack-api.js';

interface WireService {
  ID: string;
  Version: { Index: number };
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
}

export async function rollbackStack(
  api: StackApi,
  namespace: string,
  out: (line: string) => void,
): Promise<DeployedService[]> {
  const services = await api.get<WireService[]>(`/services?${labelFilter(namespace)}`);
  if (!services.length) throw new StackDeployError(`nothing found in stack: ${namespace}`);
  const last = Math.max(...services.map((s) => generationOf(s.Spec)));
  const targets = services
    .filter((s) => s.PreviousSpec && generationOf(s.Spec) === last)
    .sort((a, b) => (a.Spec.Name < b.Spec.Name ? -1 : 1));
  if (!targets.length)
    throw new StackDeployError(`stack ${namespace} has no service with a previous spec to roll back to`);
  const done: DeployedService[] = [];
  for (const s of targets) {
    out(`Rolling back service ${s.Spec.Name} (id: ${s.ID})`);
    try {
      await api.post(`/services/${s.ID}/update?version=${s.Version.Index}&rollback=previous`, s.Spec);
    } catch (e) {
      throw new StackDeployError(`failed to roll back service ${s.Spec.Name}: ${(e as Error).message}`);
    }
    done.push({ id: s.ID, name: s.Spec.Name });
  }
  return done;
}
