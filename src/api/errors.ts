/**
 * One mapper from any error to Docker's error response: status from the error code, body
 * `{"message": ...}`, Content-Type exactly `application/json` (with a charset the CLI prints raw JSON).
 */
import type { Reply } from './reply.js';
import { httpStatus, ShoalError } from '../common/errors.js';
import { HttpError } from '../common/http-client.js';

export function errorStatus(e: unknown): number {
  if (e instanceof ShoalError) return httpStatus(e.code);
  if (e instanceof HttpError) return e.status;
  return 500;
}

export function writeError(res: Reply, e: unknown): void {
  const status = errorStatus(e);
  const message = (e instanceof Error ? e.message : String(e)) || `request failed with status ${status}`;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Go's json.Encoder ends every body with a newline; so do Docker's answers, errors included.
  const body = `${JSON.stringify({ message })}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function writeJson(res: Reply, status: number, value: unknown): void {
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export const badRequest = (msg: string): ShoalError => new ShoalError('invalid_argument', msg);
