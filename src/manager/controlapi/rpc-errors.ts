/**
 * Errors worded as Docker relays swarmkit's gRPC errors (`rpc error: code = X desc = ...`), so a
 * client sees the same text from shoal as from a real swarm.
 */
import { ShoalError, type ErrorCode } from '../../common/errors.js';

const GRPC_NAME: Partial<Record<ErrorCode, string>> = {
  invalid_argument: 'InvalidArgument',
  already_exists: 'AlreadyExists',
  failed_precondition: 'FailedPrecondition',
  not_found: 'NotFound',
  unavailable: 'Unavailable',
  unknown: 'Unknown',
  permission_denied: 'PermissionDenied',
  unimplemented: 'Unimplemented',
};

export function rpcError(code: ErrorCode, desc: string): ShoalError {
  return new ShoalError(code, `rpc error: code = ${GRPC_NAME[code] ?? 'Unknown'} desc = ${desc}`);
}

/** Store errors (update out of sequence, ...) surface in gRPC wording. */
export function asRpcError(e: unknown): unknown {
  if (e instanceof ShoalError && !e.message.startsWith('rpc error:') && e.code === 'unknown')
    return rpcError(e.code, e.message);
  return e;
}
