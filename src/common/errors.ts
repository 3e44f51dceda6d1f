/**
 * One error type for the whole project. The code maps to Docker's HTTP status the way moby maps
 * gRPC codes, so every layer can fail with a precise, client-visible reason.
 */
export type ErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'permission_denied'
  | 'unavailable'
  | 'unimplemented'
  | 'conflict'
  | 'too_large'
  | 'unknown';

export class ShoalError extends Error {
  readonly code: ErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, context: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ShoalError';
    this.code = code;
    this.context = context;
  }
}

export const invalidArgument = (msg: string): ShoalError => new ShoalError('invalid_argument', msg);
export const notFound = (msg: string): ShoalError => new ShoalError('not_found', msg);
export const alreadyExists = (msg: string): ShoalError => new ShoalError('already_exists', msg);
export const failedPrecondition = (msg: string): ShoalError => new ShoalError('failed_precondition', msg);
export const unavailable = (msg: string): ShoalError => new ShoalError('unavailable', msg);

/** HTTP status for an error code (moby's gRPC mapping; `conflict` is a plain 409 like `swarm is not locked`). */
export function httpStatus(code: ErrorCode): number {
  switch (code) {
    case 'invalid_argument':
    case 'failed_precondition':
      return 400;
    case 'permission_denied':
      return 403;
    case 'not_found':
      return 404;
    case 'already_exists':
    case 'conflict':
      return 409;
    case 'too_large':
      return 413;
    case 'unimplemented':
      return 501;
    case 'unavailable':
      return 503;
    case 'unknown':
      return 500;
    default:
      return assertNever(code);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${String(x)}`);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
