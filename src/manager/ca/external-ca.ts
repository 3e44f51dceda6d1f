/** Which external CA (`--external-ca`) signs for a root, and what is wrong with a configuration. */
import type { ExternalCA } from '../../store/types.js';

/** The external CA to use for a root: the one naming that root, else one naming none. */
export function externalCAFor(cas: readonly ExternalCA[] | undefined, root: string): ExternalCA | undefined {
  const list = (cas ?? []).filter((c) => c.Protocol.toLowerCase() === 'cfssl');
  return list.find((c) => c.CACert?.trim() === root.trim()) ?? list.find((c) => !c.CACert);
}

/** Checks external CA entries as an update or init carries them; returns what is wrong, or undefined. */
export function externalCAProblem(cas: readonly ExternalCA[] | undefined): string | undefined {
  for (const c of cas ?? []) {
    if (c.Protocol.toLowerCase() !== 'cfssl') return `unrecognized external CA protocol ${c.Protocol}`;
    let url: URL;
    try {
      url = new URL(c.URL);
    } catch {
      return `invalid external CA URL ${c.URL}`;
    }
    if (url.protocol !== 'https:') return `external CA URL ${c.URL} must use https`;
  }
  return undefined;
}
