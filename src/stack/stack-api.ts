/** What the stack commands need from a daemon, and how they find a stack's objects: by label. */
import type { ServiceSpec } from '../store/types.js';

/** The Engine API calls the stack commands make (the CLI's ApiClient has them). */
export interface StackApi {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  del(path: string): Promise<void>;
}

/** The label docker's stack commands put on every object of a stack. */
export const NAMESPACE_LABEL = 'com.docker.stack.namespace';
/** The image as the compose file names it, on the service. */
export const IMAGE_LABEL = 'com.docker.stack.image';

/** `filters={"label":{"com.docker.stack.namespace=NS":true}}`, or every stack without a namespace. */
export function labelFilter(namespace?: string): string {
  const key = namespace === undefined ? NAMESPACE_LABEL : `${NAMESPACE_LABEL}=${namespace}`;
  return `filters=${encodeURIComponent(JSON.stringify({ label: { [key]: true } }))}`;
}

/**
 * shoal's label on a service: the `shoal stack deploy` run (1, 2, ...) that last changed it, so
 * `shoal stack rollback` knows which services the last deploy changed.
 */
export const GENERATION_LABEL = 'io.shoal.stack.generation';

export function generationOf(spec: ServiceSpec): number {
  const n = Number(spec.Labels?.[GENERATION_LABEL] ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
