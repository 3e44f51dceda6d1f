/**
 * `depends_on` (shoal's extension; docker's stack deploy ignores it): each dependency becomes a
 * `ServiceDependency` on the full service name. A dependency on a service the stack does not define
 * is refused (unless marked `required: false`), and so is a cycle, named in order (`web -> db -> web`).
 */
import type { DependencyCondition, ServiceDependency } from '../store/types.js';
import { isMap, type RawMap, type Reader } from './raw.js';

const CONDITIONS: readonly DependencyCondition[] = [
  'service_started',
  'service_healthy',
  'service_completed_successfully',
];

export function dependencies(
  r: Reader,
  namespace: string,
  key: string,
  svc: RawMap,
  services: RawMap,
): ServiceDependency[] {
  const deps = svc['depends_on'];
  if (!isMap(deps)) return [];
  const out: ServiceDependency[] = [];
  for (const [name, v] of Object.entries(deps)) {
    const path = ['services', key, 'depends_on', name];
    const m = isMap(v) ? v : {};
    const required = r.bool(m['required'], [...path, 'required']) ?? true;
    if (!isMap(services[name])) {
      if (!required) continue;
      r.fail(path, `refers to undefined service "${name}"`);
    }
    if (name === key) r.fail(path, 'makes the service depend on itself');
    const text = r.str(m['condition'], [...path, 'condition']) ?? 'service_started';
    const condition =
      CONDITIONS.find((c) => c === text) ?? r.fail([...path, 'condition'], `must be one of: ${CONDITIONS.join(', ')}`);
    out.push({ Service: `${namespace}_${name}`, Condition: condition });
  }
  return out.sort((a, b) => (a.Service < b.Service ? -1 : a.Service > b.Service ? 1 : 0));
}

/** The first cycle found in key order, as `a -> b -> a`, or undefined. */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'visiting');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const cycle = visit(m);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...graph.keys()].sort()) {
    const cycle = visit(n);
    if (cycle) return cycle;
  }
  return undefined;
}
