/**
 * `--metrics-addr`: a plain HTTP listener serving GET /metrics (Prometheus text format) and nothing
 * else. It carries no cluster secrets, only counts and timings, and is off unless the flag is set.
 */
import http from 'node:http';
import { splitHostPort } from '../common/host-port.js';
import { listen } from '../common/listen.js';
import type { Logger } from '../common/logging.js';
import type { DaemonMetrics } from './metrics.js';

export interface MetricsServer {
  /** The address it listens on (the port filled in when 0 was asked). */
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export async function serveMetrics(metrics: DaemonMetrics, addr: string, logger: Logger): Promise<MetricsServer> {
  const { host, port } = splitHostPort(addr, 9323);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://metrics');
    if (url.pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    metrics.scrape().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (e: unknown) => {
        logger.warn('collecting metrics failed', { error: String(e) });
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(e)}\n`);
      },
    );
  });
  const a = await listen(server, port, host);
  logger.info('metrics listening', { addr: `${a.address}:${a.port}` });
  return {
    address: { host: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
