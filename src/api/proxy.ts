/**
 * Everything that is not shoal's own goes to the runtime engine unchanged: requests and responses
 * are streamed both ways (events, logs -f, image load, build contexts), and hijacked connections
 * (attach, exec start: `Connection: Upgrade`) become raw byte pipes.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../common/logging.js';
import { writeError } from './errors.js';

function connectOptions(runtimeUrl: string): { socketPath?: string; host?: string; port?: number } {
  if (runtimeUrl.startsWith('unix://')) return { socketPath: runtimeUrl.slice('unix://'.length) };
  const u = new URL(runtimeUrl.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: Number(u.port || 2375) };
}

export class EngineProxy {
  constructor(
    private readonly runtimeUrl: string,
    private readonly logger: Logger,
  ) {}

  /** Forwards `req` to the engine at `url` (the normalised form shoal routed on). */
  forward(req: IncomingMessage, res: ServerResponse, url: string): void {
    const upstream = http.request(
      {
        ...connectOptions(this.runtimeUrl),
        method: req.method,
        path: url,
        headers: { ...endToEnd(req.headers), host: 'docker' },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.rawHeaders);
        res.flushHeaders();
        up.pipe(res);
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (e) => {
      this.logger.debug('proxy error', { path: req.url, error: e.message });
      if (!res.headersSent)
        writeError(res, Object.assign(new Error(`cannot reach the container runtime: ${e.message}`), {}));
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** A hijacked connection to `url`: replay the request head to the engine, then splice the two sockets. */
  upgrade(req: IncomingMessage, client: Duplex, head: Buffer, url: string): void {
    const target = connectOptions(this.runtimeUrl);
    const engine = target.socketPath
      ? net.connect({ path: target.socketPath })
      : net.connect({ host: target.host!, port: target.port! });
    engine.on('connect', () => {
      let h = `${req.method} ${url} HTTP/${req.httpVersion}\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i]!;
        h += `${k}: ${k.toLowerCase() === 'host' ? 'docker' : req.rawHeaders[i + 1]}\r\n`;
      }
      engine.write(h + '\r\n');
      if (head.length) engine.write(head);
      engine.pipe(client);
      client.pipe(engine);
    });
    const close = (): void => {
      engine.destroy();
      client.destroy();
    };
    engine.on('error', close);
    client.on('error', close);
    engine.on('close', () => client.end());
    client.on('close', () => engine.end());
  }
}

/** Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are not passed on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'host',
]);

function endToEnd(headers: IncomingMessage['headers']): IncomingMessage['headers'] {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const out: IncomingMessage['headers'] = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && !named.includes(k)) out[k] = v;
  return out;
}
