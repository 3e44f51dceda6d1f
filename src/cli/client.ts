/**
 * The CLI's connection to a shoal daemon: the Engine API over its socket, with the version
 * negotiated like the docker CLI (`HEAD /_ping`, then `/vX.Y` on every call).
 */
import type { IncomingMessage } from 'node:http';
import { EngineClient, HttpError } from '../common/http-client.js';

export const DEFAULT_HOST = 'unix:///run/shoal/shoal.sock';

export function hostFromEnv(flag?: string): string {
  return flag || process.env.SHOAL_HOST || DEFAULT_HOST;
}

export class ApiClient {
  private client: EngineClient | undefined;

  constructor(readonly host: string) {}

  private async negotiated(): Promise<EngineClient> {
    if (this.client) return this.client;
    const raw = new EngineClient(this.host);
    let version = '1.41';
    try {
      const res = await raw.stream('/_ping', { method: 'HEAD', timeoutMs: 10_000 });
      res.resume();
      const v = res.headers['api-version'];
      if (typeof v === 'string' && v) version = v;
    } catch (e) {
      throw new CliError(
        `Cannot connect to the shoal daemon at ${this.host}. Is the shoal daemon running? (${(e as Error).message})`,
      );
    }
    this.client = new EngineClient(this.host, `/v${version}`);
    return this.client;
  }

  async get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  async post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  async del(path: string): Promise<void> {
    await this.call('DELETE', path);
  }

  async stream(path: string): Promise<IncomingMessage> {
    const c = await this.negotiated();
    const res = await c.stream(path);
    if ((res.statusCode ?? 500) >= 300) {
      let text = '';
      for await (const chunk of res) text += (chunk as Buffer).toString();
      throw new HttpError(res.statusCode ?? 500, messageOf(text));
    }
    return res;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const c = await this.negotiated();
    return c.json<T>(path, { method, body });
  }
}

function messageOf(text: string): string {
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text;
  }
}

/** An error the CLI prints as it is, without the daemon prefix. */
export class CliError extends Error {}

export function filtersParam(f: Record<string, string[]>): string {
  const out: Record<string, Record<string, boolean>> = {};
  for (const [k, vs] of Object.entries(f)) {
    if (!vs.length) continue;
    out[k] = Object.fromEntries(vs.map((v) => [v, true]));
  }
  return Object.keys(out).length ? `filters=${encodeURIComponent(JSON.stringify(out))}` : '';
}

/** `-f key=value` flags into a filter map. */
export function parseFilterFlags(flags: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of flags) {
    const i = f.indexOf('=');
    if (i <= 0) throw new CliError(`bad format of filter (expected name=value)`);
    (out[f.slice(0, i)] ??= []).push(f.slice(i + 1));
  }
  return out;
}

/**
 * `docker X rm A B C`: removes each object in turn, printing its name when it goes and Docker's
 * error line when it does not; the exit status is 1 if any failed.
 */
export async function removeEach(api: ApiClient, collection: string, refs: readonly string[]): Promise<void> {
  let failed = false;
  for (const ref of refs) {
    try {
      await api.del(`/${collection}/${encodeURIComponent(ref)}`);
      process.stdout.write(`${ref}\n`);
    } catch (e) {
      failed = true;
      process.stderr.write(`Error response from daemon: ${(e as Error).message}\n`);
    }
  }
  if (failed) process.exitCode = 1;
}
