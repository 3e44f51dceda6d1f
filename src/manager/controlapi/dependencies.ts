/**
 * Validation of the `DependsOn` spec extension (start order, compose `depends_on`): each entry names
 * a service and one of compose's three conditions, a service does not depend on itself, and the
 * services' dependencies form no cycle. A dependency on a service that does not exist yet is fine: a
 * stack creates its services one by one, and the tasks wait until it exists (scheduler/dependencies).
 */
import type { DependencyCondition, ServiceObject, ServiceSpec } from '../../store/types.js';
import { rpcError } from './rpc-errors.js';

export const DEPENDENCY_CONDITIONS: readonly DependencyCondition[] = [
  'service_started',
  'service_healthy',
  'service_completed_successfully',
];

const invalid = (desc: string): Error => rpcError('invalid_argument', `DependsOn: ${desc}`);

/** The checks that need only the spec itself. */
export function validateDependsOn(spec: ServiceSpec): void {
  const deps: unknown = spec.DependsOn;
  if (deps === undefined) return;
  if (!Array.isArray(deps)) throw invalid('must be a list of dependencies');
  const seen = new Set<string>();
  for (const d of deps as unknown[]) {
    const dep = (d ?? {}) as { Service?: unknown; Condition?: unknown };
    if (typeof dep.Service !== 'string' || dep.Service === '') throw invalid('a dependency must name a service');
    const name = dep.Service;
    if (!DEPENDENCY_CONDITIONS.includes(dep.Condition as DependencyCondition)) {
      throw invalid(
        `invalid condition ${JSON.stringify(dep.Condition ?? '')} for ${name} (must be ${DEPENDENCY_CONDITIONS.join(', ')})`,
      );
    }
    if (name === spec.Name) throw invalid(`service ${name} cannot depend on itself`);
    if (seen.has(name)) throw invalid(`duplicate dependency on ${name}`);
    seen.add(name);
  }
}

/**
 * A cycle through `spec` among the stored services (with `spec` in place of the stored service of
 * the same name), as the list of names from `spec` back to it; undefined when there is none.
 */
export function findDependencyCycle(spec: ServiceSpec, services: readonly ServiceObject[]): string[] | undefined {
  const edges = new Map<string, string[]>();
  for (const s of services)
    edges.set(
      s.Spec.Name,
      (s.Spec.DependsOn ?? []).map((d) => d.Service),
    );
  edges.set(
    spec.Name,
    (spec.DependsOn ?? []).map((d) => d.Service),
  );
  // Depth-first from `spec`, following dependencies in spec order; stored services form no cycle
  // among themselves (each was checked when written), so any cycle passes through `spec`.
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (name === spec.Name && path.length > 0) return [...path, name];
    if (done.has(name) || path.includes(name)) return undefined;
    path.push(name);
    for (const next of edges.get(name) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(name);
    return undefined;
  };
  return visit(spec.Name);
}

/** Refuses a spec whose dependencies would close a cycle: `dependency cycle: a -> b -> a`. */
export function checkDependencyCycle(spec: ServiceSpec, services: readonly ServiceObject[]): void {
  const cycle = findDependencyCycle(spec, services);
  if (cycle) throw invalid(`dependency cycle: ${cycle.join(' -> ')}`);
}
