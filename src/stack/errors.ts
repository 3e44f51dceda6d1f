/**
 * The one error a compose file can cause. Every message has the same shape, so a user can find the
 * bad key at once: `FILE: PATH REASON` (e.g. `docker-compose.yml: services.web.deploy.replicas must
 * be an integer`), or `FILE: REASON` when no single key is to blame.
 */
import { ShoalError } from '../common/errors.js';

/** A key path inside a compose file: map keys and list indexes, outermost first. */
export type KeyPath = readonly (string | number)[];

/** `services.web.ports[0].target`; keys holding a dot or a space are quoted. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = /^[A-Za-z0-9_-]+$/.test(part) ? part : JSON.stringify(part);
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

export class StackFileError extends ShoalError {
  readonly file: string;
  readonly path: string;
  readonly reason: string;

  constructor(file: string, path: KeyPath, reason: string) {
    const where = formatPath(path);
    super('invalid_argument', where === '' ? `${file}: ${reason}` : `${file}: ${where} ${reason}`, {
      file,
      path: where,
    });
    this.name = 'StackFileError';
    this.file = file;
    this.path = where;
    this.reason = reason;
  }
}
