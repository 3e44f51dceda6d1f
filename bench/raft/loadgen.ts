/**
 * A light write-load generator for bench/raft: `concurrency` loops, each doing one 256-byte put at a
 * time over keep-alive HTTP, for a fixed time; latency per put. Targets shoal's raft-kv harness
 * (PUT /kv/KEY, following 421 redirects to the leader) or etcd's v3 JSON gateway (POST /v3/kv/put).
 */
import http from 'node:http';

export type Target = { kind: 'shoal'; endpoints: Map<string, string> } | { kind: 'etcd'; endpoint: string };

export interface LoadResult {
  ops: number;
  errors: number;
  /** Time under load, in seconds. */
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Every successful put's latency in ms, ascending: slices of one level pool them (bench.ts). */
  latencies: number[];
}

/** One request over the agent's keep-alive connections; `headers` are added to the content headers. */
export function request(
  agent: http.Agent,
  url: string,
  method: string,
  body: string,
  contentType: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (b += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const percentile = (sorted: number[], p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : NaN;

/** A result from sorted latencies, the failed puts and the time under load. */
const resultOf = (latencies: number[], errors: number, seconds: number): LoadResult => ({
  ops: latencies.length,
  errors,
  seconds,
  opsPerSec: latencies.length / seconds,
  p50Ms: percentile(latencies, 0.5),
  p99Ms: percentile(latencies, 0.99),
  latencies,
});

/** One result from several loads of the same target (their latencies pooled, their times added). */
export const pooled = (parts: readonly LoadResult[]): LoadResult =>
  resultOf(
    parts.flatMap((p) => p.latencies).sort((a, b) => a - b),
    parts.reduce((a, p) => a + p.errors, 0),
    parts.reduce((a, p) => a + p.seconds, 0),
  );

export async function runLoad(target: Target, concurrency: number, seconds: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const value = 'x'.repeat(256);
  const lat: number[] = [];
  let errors = 0;
  let leaderUrl = target.kind === 'shoal' ? [...target.endpoints.values()][0]! : target.endpoint;
  const deadline = performance.now() + seconds * 1000;
  let seq = 0;
  const put = async (key: string): Promise<boolean> => {
    if (target.kind === 'etcd') {
      const body = JSON.stringify({
        key: Buffer.from(key).toString('base64'),
        value: Buffer.from(value).toString('base64'),
      });
      const r = await request(agent, `${target.endpoint}/v3/kv/put`, 'POST', body, 'application/json');
      return r.status === 200;
    }
    for (let hop = 0; hop < 3; hop++) {
      const r = await request(agent, `${leaderUrl}/kv/${key}`, 'PUT', value, 'text/plain');
      if (r.status === 204) return true;
      if (r.status !== 421) return false;
      const leader = (JSON.parse(r.body) as { leader: string }).leader;
      const next = leader ? target.endpoints.get(leader) : undefined;
      if (!next) {
        await new Promise((res) => setTimeout(res, 50));
        continue;
      }
      leaderUrl = next;
    }
    return false;
  };
  const worker = async (w: number): Promise<void> => {
    while (performance.now() < deadline) {
      const key = `w${w}-${seq++ % 1000}`;
      const t0 = performance.now();
      try {
        if (await put(key)) lat.push(performance.now() - t0);
        else errors++;
      } catch {
        errors++;
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  return resultOf(lat, errors, elapsed);
}
