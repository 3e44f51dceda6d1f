/** Resolving a user's reference (full id, exact name, unique id prefix) to one object, as Docker does. */
import { ShoalError } from '../../common/errors.js';

export function resolveRef<T extends { ID: string }>(
  items: readonly T[],
  ref: string,
  name: (o: T) => string,
  what: string,
): T {
  const byId = items.find((o) => o.ID === ref);
  if (byId) return byId;
  const byName = items.filter((o) => name(o) === ref);
  if (byName.length === 1) return byName[0]!;
  const byPrefix = ref ? items.filter((o) => o.ID.startsWith(ref)) : [];
  if (byPrefix.length === 1) return byPrefix[0]!;
  if (byName.length > 1 || byPrefix.length > 1) {
    throw new ShoalError(
      'invalid_argument',
      `${what} ${ref} is ambiguous (${byName.length + byPrefix.length} matches found)`,
    );
  }
  throw new ShoalError('not_found', `${what} ${ref} not found`);
}
