import http from 'node:http';
import type { Readable } from 'node:stream';

/**
 * A minimal Docker-Engine-API client over a unix socket or TCP, used by the executor (to the runtime
 * engine), the CLI (to shoal's API) and tests. Bodies are JSON unless a stream is asked for.
 */
export interface EngineEndpoint {
  /** `unix:///path.sock` or `tcp://host:port` or `http://host:port`. */
  readonly url: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Abort after this many ms (0 = never). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function target(url: string): { socketPath?: string; host?: string; port?: number } {
  if (url.startsWith('unix://')) return { socketPath: url.slice('unix://'.length) };
  const u = new URL(url.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: Number(u.port || 2375) };
}

export class EngineClient {
  constructor(
    readonly url: string,
    /** Prefix such as `/v1.41`; empty for unversioned calls. */
    readonly versionPrefix = '',
  ) {}

  /** Sends a request and returns the raw response stream (caller consumes it). */
  stream(path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      let payload: Buffer | undefined;
      if (opts.body !== undefined) {
        payload = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(JSON.stringify(opts.body));
        headers['Content-Type'] ??= 'application/json';
        headers['Content-Length'] = String(payload.length);
      }
      const req = http.request(
        {
          ...target(this.url),
          path: this.versionPrefix + path,
          method: opts.method ?? 'GET',
          headers,
          signal: opts.signal,
        },
        resolve,
      );
      if (opts.timeoutMs)
        req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`timeout after ${opts.timeoutMs} ms: ${path}`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Sends a request and decodes a JSON answer; non-2xx becomes an HttpError with Docker's message. */
  async json<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.stream(path, opts);
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw new HttpError(status, errorText(text, status));
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }
}

export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function errorText(text: string, status: number): string {
  try {
    const parsed = JSON.parse(text) as { message?: string };
    if (parsed.message) return parsed.message;
  } catch {
    // not JSON: fall through
  }
  return text.trim() || `request returned ${status}`;
}
