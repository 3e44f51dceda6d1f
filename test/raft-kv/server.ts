/**
 * A key-value server on shoal's Raft library alone (no store, no Engine API): the harness for the
 * real-process Raft tests and bench/raft. Members find each other through a static peer list.
 *
 *   node dist/test/raft-kv/server.js --id m1 --peers m1=127.0.0.1:7001,m2=...,m3=... \
 *        --client-port 8001 --dir /tmp/m1 [--tick-ms 100] [--snapshot-interval 10000] [--keep-entries 500]
 *        [--trace-dir DIR]
 *
 * PUT /kv/KEY (body: value) answers 204 once the write is committed and applied here; a member that
 * does not lead answers 421 with {"leader": ID}. GET /kv/KEY is a linearizable read on the leader
 * (ReadIndex: readBarrier, then the applied state; 421 elsewhere); GET /status tells role, term,
 * leader and indexes; GET /dump returns this member's applied keys and values; POST /transfer/ID asks
 * the leader to hand leadership to ID.
 *
 * With --trace-dir, the member records its GCs, WAL writes and the requests that carry an `x-seq`
 * header (trace.ts), and writes them to DIR/ID.json on SIGUSR2 (bench/raft/tail.ts).
 */
import path from 'node:path';
import http from 'node:http';
import { consoleLogger } from '../../src/common/logging.js';
import { cryptoRandom } from '../../src/common/random.js';
import { loadOrCreateDek } from '../../src/raft/cipher.js';
import { RaftNode, type StateMachine } from '../../src/raft/node.js';
import { TcpTransport, type PeerAddress } from '../../src/raft/transport-tcp.js';
import { NotLeaderError, ProposalOutcomeUnknownError } from '../../src/raft/types.js';
import { MemberTrace, nowUs } from './trace.js';

const arg = (name: string, d?: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : d;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};

/** Pairs per snapshot chunk: a chunk is one short burst of JSON work, then the loop gets a turn. */
const SNAPSHOT_CHUNK = 500;
const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

class KvMachine implements StateMachine {
  readonly kv = new Map<string, string>();
  apply(_index: number, data: Uint8Array): void {
    const { k, v } = JSON.parse(Buffer.from(data).toString('utf8')) as { k: string; v: string };
    this.kv.set(k, v);
  }
  /** Newline-delimited pairs in chunks, like the manager store's: never one big JSON.stringify. */
  snapshot(): AsyncIterable<Uint8Array> {
    const pairs = [...this.kv]; // strings are immutable: this copy is the cut
    return (async function* () {
      for (let i = 0; i < pairs.length; i += SNAPSHOT_CHUNK) {
        let chunk = '';
        for (const p of pairs.slice(i, i + SNAPSHOT_CHUNK)) chunk += JSON.stringify(p) + '\n';
        yield new Uint8Array(Buffer.from(chunk));
        await yieldToLoop();
      }
    })();
  }
  async restore(_index: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const next = new Map<string, string>();
    for await (const c of chunks) {
      for (const line of Buffer.from(c).toString('utf8').split('\n')) {
        if (!line) continue;
        const [k, v] = JSON.parse(line) as [string, string];
        next.set(k, v);
      }
      await yieldToLoop();
    }
    this.kv.clear();
    for (const [k, v] of next) this.kv.set(k, v);
  }
}

async function main(): Promise<void> {
  const id = arg('id');
  const peers = new Map<string, PeerAddress>();
  for (const p of arg('peers').split(',')) {
    const [pid, addr] = p.split('=') as [string, string];
    const [host, port] = addr.split(':') as [string, string];
    peers.set(pid, { host, port: Number(port) });
  }
  const me = peers.get(id);
  if (!me) throw new Error(`--id ${id} is not in --peers`);
  const logger = consoleLogger(process.env.SHOAL_LOG_LEVEL === 'debug' ? 'debug' : 'warn').child(id);
  const transport = new TcpTransport({ id, listen: me, peers, logger });
  await transport.listen();
  const sm = new KvMachine();
  const interval = Number(arg('snapshot-interval', '10000'));
  const keep = Number(arg('keep-entries', '500'));
  let trace: MemberTrace | undefined;
  if (process.argv.includes('--trace-dir')) {
    const file = path.join(arg('trace-dir'), `${id}.json`);
    const t = (trace = new MemberTrace(id));
    process.on('SIGUSR2', () => t.writeTo(file));
  }
  const node = new RaftNode({
    id,
    voters: [...peers.keys()],
    dir: arg('dir'),
    tickMs: Number(arg('tick-ms', '100')),
    electionTick: () => 10,
    heartbeatTick: () => 1,
    snapshotInterval: () => interval,
    keepEntries: () => keep,
    sm,
    cipher: await loadOrCreateDek(path.join(arg('dir'), 'dek.json')),
    random: cryptoRandom,
    logger,
    transport,
    ...(trace ? { instruments: { walSync: (s: number, n: number) => trace.walSync(s, n) } } : {}),
    // A storage or apply error: exit at once and non-zero, as a manager does; restart recovers from disk.
    onFatal: (e) => {
      process.stderr.write(`${id}: ${e.message}\n`);
      process.exit(70);
    },
  });
  await node.start();

  const notLeader = (res: http.ServerResponse, leader = ''): void => {
    res.writeHead(421, { 'Content-Type': 'application/json' }).end(JSON.stringify({ leader: leader || node.leader }));
  };
  const server = http.createServer((req, res) => {
    const seq = req.headers['x-seq'];
    if (trace && typeof seq === 'string') {
      const [t, start] = [trace, nowUs()];
      res.once('finish', () => t.served(Number(seq), start));
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/status') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          id,
          leader: node.leader,
          isLeader: node.isLeader,
          ...node.debugState(),
          peers: node.peers(),
          keys: sm.kv.size,
          syncs: node.stats.syncs,
          entries: node.stats.entries,
          snapshotsInstalled: node.stats.snapshotsInstalled,
        }),
      );
      return;
    }
    if (req.method === 'GET' && url.pathname === '/dump') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(Object.fromEntries(sm.kv)));
      return;
    }
    if (req.method === 'POST' && url.pathname.startsWith('/transfer/')) {
      if (!node.isLeader) return notLeader(res);
      node.transferLeadership(decodeURIComponent(url.pathname.slice('/transfer/'.length)));
      res.writeHead(202).end();
      return;
    }
    const key = url.pathname.startsWith('/kv/') ? decodeURIComponent(url.pathname.slice(4)) : undefined;
    if (key === undefined) {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'GET') {
      node.readBarrier(2000).then(
        () => {
          const v = sm.kv.get(key);
          if (v === undefined) res.writeHead(404).end();
          else res.writeHead(200).end(v);
        },
        (e: unknown) => (e instanceof NotLeaderError ? notLeader(res, e.leader) : res.writeHead(500).end(String(e))),
      );
      return;
    }
    if (req.method !== 'PUT') {
      res.writeHead(405).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const v = Buffer.concat(chunks).toString('utf8');
      node.propose(Buffer.from(JSON.stringify({ k: key, v }))).then(
        () => res.writeHead(204).end(),
        (e: unknown) => {
          if (e instanceof NotLeaderError) {
            notLeader(res, e.leader);
          } else if (e instanceof ProposalOutcomeUnknownError) {
            res.writeHead(504).end(e.message); // may still commit: neither acknowledged nor refused
          } else {
            res.writeHead(500).end(String(e));
          }
        },
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(Number(arg('client-port')), me.host, r));
  process.stdout.write(`ready ${id}\n`);
  const stop = (): void => {
    server.close();
    void node
      .stop()
      .then(() => transport.close())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
