/**
 * `--ui-addr`: the visualizer, served by the daemon itself. GET only: the page and its bundle, a
 * server-sent event stream of the store (a snapshot, then deltas as changes commit), a task's slot
 * history and its last log lines. It reads this manager's replicated store, so any manager serves it.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { splitHostPort } from '../common/host-port.js';
import { listen } from '../common/listen.js';
import type { Logger } from '../common/logging.js';
import type { LogLine, LogOptions } from '../manager/controlapi/api.js';
import type { Store } from '../store/store.js';
import { allowed, checkExposure, COOKIE } from './access.js';
import { followStore, snapshotOf } from './feed.js';
import { slotHistory } from './view-model.js';
import type { UiLogLine, UiMessage } from './wire.js';

export interface UiSource {
  /** This manager's store, or undefined while the node is no manager. */
  store(): Store | undefined;
  /** This node's ID ('' outside a swarm). */
  self(): string;
  logs(taskId: string, opts: LogOptions): AsyncIterable<LogLine>;
}

export interface UiServer {
  readonly address: { host: string; port: number };
  /** The node's store came or went (init, join, promotion, leave): open streams end and reconnect. */
  storeChanged(): void;
  close(): Promise<void>;
}

/** A page that cannot keep up (more than this buffered) is dropped; it reconnects to a fresh snapshot. */
const MAX_BUFFERED = 32 * 1024 * 1024;
/** Keeps idle streams open through proxies; carries no data. */
const KEEPALIVE_MS = 15_000;
const MAX_LOG_LINES = 200;
const LOG_TIMEOUT_MS = 5_000;

const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

const HEADERS = {
  'x-content-type-options': 'nosniff',
  // Scripts only from the daemon; inline style attributes carry the per-service colours and bars.
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

async function loadAssets(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of new Set(Object.values(ASSETS))) {
    // Built next to this module by scripts/build-ui.mjs (npm run build).
    const file = new URL(`./web/${name}`, import.meta.url);
    files.set(
      name,
      await readFile(file).catch((e: unknown) => {
        throw new Error(`the visualizer's page is not built (${file.pathname}): run \`npm run build\` (${String(e)})`);
      }),
    );
  }
  return files;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...HEADERS, 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function serveUi(
  source: UiSource,
  o: { addr: string; token?: string; logger: Logger },
): Promise<UiServer> {
  const { host, port } = splitHostPort(o.addr, 8080);
  checkExposure(host, o.token);
  const assets = await loadAssets();
  const streams = new Set<http.ServerResponse>();

  const stream = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(200, {
      ...HEADERS,
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write('retry: 1000\n\n');
    streams.add(res);
    let stop = (): void => {};
    const send = (m: UiMessage): void => {
      res.write(`data: ${JSON.stringify(m)}\n\n`);
      if (res.writableLength > MAX_BUFFERED) res.destroy();
    };
    const store = source.store();
    if (!store) send({ kind: 'idle', reason: 'this node is not a swarm manager' });
    else {
      send(snapshotOf(store, source.self()));
      stop = followStore(store, send);
    }
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    req.on('close', () => {
      clearInterval(keepalive);
      stop();
      streams.delete(res);
    });
  };

  const slot = (res: http.ServerResponse, taskId: string): void => {
    const store = source.store();
    if (!store) return json(res, 503, { message: 'this node is not a swarm manager' });
    const history = store.view((tx) => {
      const t = tx.get('task', taskId);
      return (
        t &&
        slotHistory(
          t,
          tx.find('task', (o) => o.ServiceID === t.ServiceID),
        )
      );
    });
    if (!history) return json(res, 404, { message: `task ${taskId} not found` });
    json(res, 200, history);
  };

  const logs = async (res: http.ServerResponse, taskId: string, tail: number): Promise<void> => {
    const signal = AbortSignal.timeout(LOG_TIMEOUT_MS);
    const lines: UiLogLine[] = [];
    try {
      for await (const l of source.logs(taskId, { follow: false, tail, stdout: true, stderr: true, signal }))
        lines.push({ stream: l.stream === 2 ? 'stderr' : 'stdout', timestamp: l.timestamp, text: l.line });
    } catch (e) {
      // A task whose node is gone, or one that never made a container: say so in the panel.
      return json(res, 502, { message: e instanceof Error ? e.message : String(e), lines });
    }
    json(res, 200, { lines: lines.slice(-tail) });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://ui');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...HEADERS, allow: 'GET, HEAD' }).end();
      return;
    }
    if (!allowed(o.token, req, url)) {
      res.writeHead(401, { ...HEADERS, 'content-type': 'text/plain' }).end('a valid ui token is required\n');
      return;
    }
    const asset = ASSETS[url.pathname];
    if (asset) {
      const cookie =
        o.token && url.searchParams.get('token')
          ? { 'set-cookie': `${COOKIE}=${encodeURIComponent(o.token)}; HttpOnly; SameSite=Strict; Path=/` }
          : {};
      const type = TYPES[asset.slice(asset.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
      res.writeHead(200, { ...HEADERS, ...cookie, 'content-type': type, 'cache-control': 'no-cache' });
      res.end(assets.get(asset));
      return;
    }
    if (url.pathname === '/api/stream') return stream(req, res);
    const m = /^\/api\/tasks\/([a-z0-9]{1,64})\/(slot|logs)$/.exec(url.pathname);
    if (m?.[2] === 'slot') return slot(res, m[1]!);
    if (m?.[2] === 'logs') {
      const tail = Math.min(Math.max(Number(url.searchParams.get('tail') ?? 20) || 20, 1), MAX_LOG_LINES);
      logs(res, m[1]!, tail).catch((e: unknown) => o.logger.warn('ui logs failed', { error: String(e) }));
      return;
    }
    json(res, 404, { message: `no such page: ${url.pathname}` });
  });
  const a = await listen(server, port, host);
  o.logger.info('visualizer listening', {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/`,
  });
  const endStreams = (): void => {
    for (const res of streams) res.end();
    streams.clear();
  };
  return {
    address: { host: a.address, port: a.port },
    storeChanged: endStreams,
    close: () =>
      new Promise<void>((resolve) => {
        endStreams();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
