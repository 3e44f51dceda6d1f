/**
 * Calls the API app in-process, without a socket (like Hono's `app.request()`): a request goes in,
 * the status, headers and body the handlers wrote come out, errors mapped as the server maps them.
 */
import { EventEmitter } from 'node:events';
import type { ApiApp } from '../app.js';
import { writeError } from '../errors.js';
import type { Reply } from '../reply.js';

export interface InProcessAnswer {
  status: number;
  headers: Record<string, string | number>;
  /** The body as text. */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  /** False when the app left the request to the runtime engine (the server would proxy it). */
  answered: boolean;
}

class RecordingReply extends EventEmitter implements Reply {
  status = 0;
  headers: Record<string, string | number> = {};
  headersSent = false;
  private readonly chunks: Buffer[] = [];
  private finish: (() => void) | undefined;
  readonly finished = new Promise<void>((r) => (this.finish = r));

  writeHead(status: number, headers: Record<string, string | number> = {}): Reply {
    this.status = status;
    this.headers = { ...headers };
    this.headersSent = true;
    return this;
  }

  flushHeaders(): void {
    this.headersSent = true;
  }

  write(chunk: Buffer | string): boolean {
    this.chunks.push(Buffer.from(chunk));
    return true;
  }

  end(chunk?: Buffer | string): void {
    if (chunk !== undefined) this.write(chunk);
    this.finish?.();
  }

  destroy(): void {
    this.finish?.();
  }

  body(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export async function request(app: ApiApp, method: string, url: string, body?: unknown): Promise<InProcessAnswer> {
  const res = new RecordingReply();
  let answered = true;
  try {
    answered = (await app.handle({ method, url, body: async () => body ?? {} }, res)).answered;
    if (!answered) res.end();
  } catch (e) {
    writeError(res, e);
  }
  await res.finished;
  const text = res.body();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, answered };
}
