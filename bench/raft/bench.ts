/**
 * shoal's Raft vs etcd, same machine, same load, one run: a 3-member raft-kv harness (shoal's Raft
 * library over loopback TCP, real fsync) and a 3-member etcd 3.4, both plaintext, written by 1, 16
 * and 64 concurrent writers of 256-byte values for a fixed time (medians of `--runs`), then leader
 * failover over `--kills` kill -9s each (time until a write through a survivor succeeds again).
 * Prints one JSON object as its last line.
 *
 *   node dist/bench/raft/bench.js [--seconds 10] [--runs 3] [--kills 20] [--snapshot-every 100000]
 *
 * Both systems snapshot every `--snapshot-every` entries: by default etcd 3.4's own default
 * (--snapshot-count 100000). shoal's daemon keeps swarm's 10000 for the manager store; with a
 * 16 MB key-value state a full snapshot every 10000 entries costs throughput and tail latency that
 * etcd, whose state already lives in its on-disk B-tree, does not pay (pass 10000 to see it).
 */
import { httpCall, KvCluster, type ProcessGroup } from '../../test/raft-kv/cluster.js';
import { intArg, median, round3 } from '../common.js';
import { EtcdCluster } from './etcd.js';
import { runLoad, type LoadResult } from './loadgen.js';

const SECONDS = intArg('seconds', 10);
const RUNS = intArg('runs', 3);
const KILLS = intArg('kills', 20);
const LEVELS = [1, 16, 64];
const SNAPSHOT_EVERY = intArg('snapshot-every', 100_000);
const shoalArgs = ['--snapshot-interval', String(SNAPSHOT_EVERY)];

interface Sample extends LoadResult {
  cpu: number;
}

async function measure(fn: () => Promise<LoadResult>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await fn();
  const c = process.cpuUsage(c0);
  return { ...r, cpu: (c.user + c.system) / 1000 / (performance.now() - t0) };
}

async function shoalRun(
  run: number,
  out: Map<number, Sample[]>,
  extra: { perFsync: number[]; spurious: number },
): Promise<void> {
  const c = new KvCluster(3, 27300 + run * 10, shoalArgs);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    for (const level of LEVELS) {
      const before = (await c.status(leader))!;
      out.get(level)!.push(await measure(() => runLoad({ kind: 'shoal', endpoints: c.endpoints }, level, SECONDS)));
      const after = (await c.status(leader))!;
      if (after.term !== before.term || !after.isLeader) extra.spurious++;
      if (level === 64) extra.perFsync.push((after.entries - before.entries) / Math.max(1, after.syncs - before.syncs));
    }
  } finally {
    await c.destroy();
  }
}

async function etcdRun(out: Map<number, Sample[]>): Promise<void> {
  const c = new EtcdCluster(undefined, SNAPSHOT_EVERY);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    for (const level of LEVELS)
      out
        .get(level)!
        .push(await measure(() => runLoad({ kind: 'etcd', endpoint: c.clientUrl(leader) }, level, SECONDS)));
  } finally {
    await c.destroy();
  }
}

/** Puts through running members (following shoal's redirects) until one succeeds; returns seconds. */
async function firstWrite(urls: () => string[], put: (url: string) => Promise<boolean>, t0: number): Promise<number> {
  for (;;) {
    for (const u of urls()) {
      try {
        if (await put(u)) return (performance.now() - t0) / 1000;
      } catch {
        // down or not ready
      }
    }
    if (performance.now() - t0 > 60_000) throw new Error('no write succeeded within 60 s of the kill');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * kill -9 the leader, time until a write through a survivor succeeds; bring the victim back and let
 * it settle before the next kill.
 */
async function failover(
  g: ProcessGroup & { destroy(): Promise<void> },
  put: (url: string, k: number) => Promise<boolean>,
  settle: (victim: string) => Promise<void>,
): Promise<number[]> {
  const times: number[] = [];
  try {
    await g.startAll();
    for (let k = 0; k < KILLS; k++) {
      const victim = await g.waitForLeader();
      await g.kill(victim);
      const t0 = performance.now();
      times.push(
        await firstWrite(
          () => g.ids.filter((id) => g.running(id)).map((id) => g.clientUrl(id)),
          (u) => put(u, k),
          t0,
        ),
      );
      await g.start(victim);
      await g.waitForLeader();
      await settle(victim);
    }
  } finally {
    await g.destroy();
  }
  return times;
}

async function shoalFailover(): Promise<number[]> {
  const c = new KvCluster(3, 27400, shoalArgs);
  return failover(
    c,
    async (u, k) => (await httpCall(`${u}/kv/failover`, 'PUT', String(k), 1000)).status === 204,
    async (victim) => {
      // The restarted member catches up before the next kill.
      const target = (await c.status(await c.waitForLeader()))!.commit;
      for (let i = 0; i < 600 && ((await c.status(victim))?.applied ?? 0) < target; i++)
        await new Promise((r) => setTimeout(r, 50));
    },
  );
}

async function etcdFailover(): Promise<number[]> {
  const body = JSON.stringify({
    key: Buffer.from('failover').toString('base64'),
    value: Buffer.from('x').toString('base64'),
  });
  return failover(
    new EtcdCluster(32479, SNAPSHOT_EVERY),
    async (u) => (await httpCall(`${u}/v3/kv/put`, 'POST', body, 1000)).status === 200,
    () => new Promise((r) => setTimeout(r, 1000)),
  );
}

function summary(
  samples: Map<number, Sample[]>,
): Record<string, { ops_s: number; p50_ms: number; p99_ms: number; errors: number }> {
  const o: Record<string, { ops_s: number; p50_ms: number; p99_ms: number; errors: number }> = {};
  for (const [level, s] of samples) {
    o[`writers_${level}`] = {
      ops_s: round3(median(s.map((x) => x.opsPerSec))),
      p50_ms: round3(median(s.map((x) => x.p50Ms))),
      p99_ms: round3(median(s.map((x) => x.p99Ms))),
      errors: s.reduce((a, x) => a + x.errors, 0),
    };
  }
  return o;
}

async function main(): Promise<void> {
  const shoal = new Map(LEVELS.map((l) => [l, [] as Sample[]]));
  const etcd = new Map(LEVELS.map((l) => [l, [] as Sample[]]));
  const extra = { perFsync: [] as number[], spurious: 0 };
  for (let r = 0; r < RUNS; r++) {
    await shoalRun(r, shoal, extra);
    await etcdRun(etcd);
    const last = (m: Map<number, Sample[]>): string =>
      LEVELS.map(
        (l) => `${l}w ${m.get(l)!.at(-1)!.opsPerSec.toFixed(0)} ops/s p99 ${m.get(l)!.at(-1)!.p99Ms.toFixed(1)} ms`,
      ).join(', ');
    console.error(`run ${r + 1}: shoal ${last(shoal)}`);
    console.error(`run ${r + 1}: etcd  ${last(etcd)}`);
  }
  const shoalKills = KILLS > 0 ? await shoalFailover() : [];
  console.error(`shoal failover: ${shoalKills.map((t) => t.toFixed(2)).join(' ')}`);
  const etcdKills = KILLS > 0 ? await etcdFailover() : [];
  console.error(`etcd failover: ${etcdKills.map((t) => t.toFixed(2)).join(' ')}`);
  const s = summary(shoal);
  const e = summary(etcd);
  const cpu = [...shoal.values(), ...etcd.values()].flat().map((x) => x.cpu);
  const result = {
    bench: 'raft',
    seconds: SECONDS,
    runs: RUNS,
    value_bytes: 256,
    snapshot_every: SNAPSHOT_EVERY,
    shoal: s,
    etcd: e,
    shoal_entries_per_fsync_at_64: round3(median(extra.perFsync)),
    shoal_spurious_leader_changes_under_load: extra.spurious,
    loadgen_cpu_cores_max: round3(Math.max(...cpu)),
    failover_s: {
      shoal: shoalKills.length
        ? { median: round3(median(shoalKills)), max: round3(Math.max(...shoalKills)), kills: shoalKills.length }
        : null,
      etcd: etcdKills.length
        ? { median: round3(median(etcdKills)), max: round3(Math.max(...etcdKills)), kills: etcdKills.length }
        : null,
    },
    ratio: {
      throughput: round3(s.writers_64!.ops_s / e.writers_64!.ops_s),
      p99: round3(s.writers_64!.p99_ms / e.writers_64!.p99_ms),
    },
  };
  console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
