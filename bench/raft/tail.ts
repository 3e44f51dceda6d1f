/**
 * Where the slowest lone writes wait. One writer puts 256-byte values into a 3-member raft-kv group
 * whose members trace their GCs, WAL writes and requests (test/raft-kv/trace.ts); this process traces
 * its own GCs and each request's send and receive. All on the host's monotonic clock, so every slow
 * request can be lined up with what the leader, the followers and the client did meanwhile.
 *
 *   node dist/bench/raft/tail.js [--seconds 20] [--slowest-permille 20] [--out FILE]
 *
 * Each request splits into `pre` (sent until the leader's handler began: client, loopback, HTTP
 * parsing), `mid` (the handler: propose, replicate, write, commit, apply) and `post` (response
 * finished until the client had it). Each of the slowest requests is charged to the first cause that
 * overlapped it, in this order: the leader's own WAL write over SLOW_WRITE_US, a leader GC, both
 * followers' WAL writes over SLOW_WRITE_US, a follower GC, a client GC; else "none seen" (the
 * process waited for a CPU, or the network). For a slow leader write it also counts how often a
 * follower had finished its write well before: a commit the leader's blocking write held up.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KvCluster } from '../../test/raft-kv/cluster.js';
import { nowUs, observeGc, type Span, type TraceDump } from '../../test/raft-kv/trace.js';
import { intArg, stringArg } from '../common.js';
import { percentile, request, runLoad } from './loadgen.js';

const SECONDS = intArg('seconds', 20);
const SLOWEST_PERMILLE = intArg('slowest-permille', 20);
const OUT = stringArg('out');
const SLOW_WRITE_US = 800;
/** A follower's write ended at least this long before the leader's: the leader's write held the commit. */
const HELD_US = 300;

type Sent = [seq: number, sentUs: number, receivedUs: number];

const overlapping = (spans: readonly Span[], from: number, to: number, minUs = 0): Span[] =>
  spans.filter(([s, d]) => d > minUs && s < to && s + d > from);

async function main(): Promise<void> {
  const traceDir = mkdtempSync(path.join(tmpdir(), 'shoal-tail-'));
  const cluster = new KvCluster(3, 27950, ['--snapshot-interval', '100000', '--trace-dir', traceDir]);
  const clientGc: Span[] = [];
  try {
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    await runLoad({ kind: 'shoal', endpoints: cluster.endpoints }, 16, 5); // warm up, as bench.ts does
    observeGc(clientGc);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const value = 'x'.repeat(256);
    const url = cluster.clientUrl(leader);
    const sent: Sent[] = [];
    const end = nowUs() + SECONDS * 1e6;
    for (let seq = 0; nowUs() < end; seq++) {
      const t = nowUs();
      const { status } = await request(agent, `${url}/kv/w0-${seq % 1000}`, 'PUT', value, 'text/plain', {
        'x-seq': String(seq),
      });
      if (status !== 204) throw new Error(`a put answered ${status} (did leadership move?)`);
      sent.push([seq, t, nowUs()]);
    }
    agent.destroy();
    for (const id of cluster.ids) cluster.signal(id, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 1000));
    const dumps = new Map(
      cluster.ids.map((id) => [id, JSON.parse(readFileSync(path.join(traceDir, `${id}.json`), 'utf8')) as TraceDump]),
    );
    const result = analyse(leader, dumps, sent, clientGc);
    console.log(JSON.stringify(result));
    if (OUT) writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  } finally {
    await cluster.destroy();
    rmSync(traceDir, { recursive: true, force: true });
  }
}

function analyse(leaderId: string, dumps: Map<string, TraceDump>, sent: Sent[], clientGc: Span[]) {
  const leader = dumps.get(leaderId)!;
  const followers = [...dumps.values()].filter((d) => d.id !== leaderId);
  const served = new Map(leader.requests.map((r) => [r[0], r]));
  const rows = sent.flatMap(([seq, s, r]) => {
    const h = served.get(seq);
    return h ? [{ total: r - s, pre: h[1] - s, mid: h[2] - h[1], post: r - h[2], s, r, hs: h[1], hf: h[2] }] : [];
  });
  const sorted = (k: 'total' | 'pre' | 'mid' | 'post'): number[] => rows.map((x) => x[k]).sort((a, b) => a - b);
  const totals = sorted('total');
  const threshold = percentile(totals, 1 - SLOWEST_PERMILLE / 1000);
  const causes: Record<string, number> = {};
  const phases: Record<string, number> = { pre: 0, mid: 0, post: 0 };
  let heldByLeaderWrite = 0;
  const slow = rows.filter((x) => x.total >= threshold);
  for (const x of slow) {
    const phase = x.mid >= x.pre && x.mid >= x.post ? 'mid' : x.pre >= x.post ? 'pre' : 'post';
    phases[phase]!++;
    const leaderWrites = overlapping(leader.walWrites, x.hs, x.hf, SLOW_WRITE_US);
    const followerWrites = followers.map((f) => overlapping(f.walWrites, x.hs, x.hf));
    let cause = 'none seen';
    if (leaderWrites.length > 0) {
      cause = 'leader WAL write';
      const leaderEnd = Math.max(...leaderWrites.map(([s, d]) => s + d));
      // A follower with no write in the window has nothing to show: it counts as never finished.
      const followerEnds = followerWrites.map((ws) => (ws.length ? Math.max(...ws.map(([s, d]) => s + d)) : Infinity));
      if (Math.min(...followerEnds) < leaderEnd - HELD_US) heldByLeaderWrite++;
    } else if (overlapping(leader.gc, x.s, x.r).length > 0) cause = 'leader GC';
    else if (followerWrites.every((ws) => ws.some(([, d]) => d > SLOW_WRITE_US))) cause = 'both followers WAL writes';
    else if (followers.some((f) => overlapping(f.gc, x.hs, x.hf).length > 0)) cause = 'follower GC';
    else if (overlapping(clientGc, x.s, x.r).length > 0) cause = 'client GC';
    causes[cause] = (causes[cause] ?? 0) + 1;
  }
  const ms = (us: number): number => Math.round(us) / 1000;
  const dist = (k: 'total' | 'pre' | 'mid' | 'post') => {
    const v = sorted(k);
    return { p50_ms: ms(percentile(v, 0.5)), p98_ms: ms(percentile(v, 0.98)), p99_ms: ms(percentile(v, 0.99)) };
  };
  const gcOf = (gc: readonly Span[]) => ({
    count: gc.length,
    median_ms: ms(
      percentile(
        gc.map(([, d]) => d).sort((a, b) => a - b),
        0.5,
      ),
    ),
  });
  return {
    bench: 'raft-tail',
    seconds: SECONDS,
    leader: leaderId,
    requests: rows.length,
    latency: { total: dist('total'), pre: dist('pre'), mid: dist('mid'), post: dist('post') },
    slowest: {
      permille: SLOWEST_PERMILLE,
      from_ms: ms(threshold),
      count: slow.length,
      longest_phase: phases,
      first_cause: causes,
      leader_write_held_a_follower_commit: heldByLeaderWrite,
    },
    gc: {
      leader: gcOf(leader.gc),
      followers: followers.map((f) => gcOf(f.gc)),
      client: gcOf(clientGc),
    },
  };
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
