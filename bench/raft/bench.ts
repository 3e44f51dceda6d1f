/**
 * shoal's Raft vs etcd, same machine, same load, one run: a 3-member raft-kv harness (shoal's Raft
 * library over loopback TCP, real fsync) and a 3-member etcd 3.4, both plaintext, written by 1, 16
 * and 64 concurrent writers of 256-byte values for a fixed time, then leader failover over `--kills`
 * kill -9s each (time until a write through a survivor succeeds again). Both groups run for the whole
 * of a run and take turns within each level: its `--seconds` are cut into `--slices` slices per
 * system, alternating A B, B A, ... (which goes first alternates between runs too), and a system's
 * slices are pooled into its sample for the run, so spells of disk or CPU noise on a shared machine
 * weigh on both alike; ratios are shoal / etcd of the medians of `--runs`.
 * Prints progress and every raw run to stderr and one JSON object (raw runs included) as its last
 * line; `--out FILE` also writes that object to FILE.
 *
 *   node dist/bench/raft/bench.js [--seconds 10] [--runs 3] [--kills 20] [--levels 1,16,64]
 *                                 [--snapshot-every 100000] [--warmup 5] [--slices 5] [--out FILE]
 *
 * Before the levels, each group takes `--warmup` seconds of unmeasured 16-writer load (0: none).
 *
 * Both systems snapshot every `--snapshot-every` entries: by default etcd 3.4's own default
 * (--snapshot-count 100000). shoal's daemon keeps swarm's 10000 for the manager store; with a
 * 16 MB key-value state a full snapshot every 10000 entries costs throughput and tail latency that
 * etcd, whose state already lives in its on-disk B-tree, does not pay (pass 10000 to see it).
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { httpCall, KvCluster, type ProcessGroup } from '../../test/raft-kv/cluster.js';
import { intArg, median, round3, stringArg } from '../common.js';
import { EtcdCluster } from './etcd.js';
import { pooled, runLoad, type LoadResult } from './loadgen.js';

const SECONDS = intArg('seconds', 10);
const RUNS = intArg('runs', 3);
const KILLS = intArg('kills', 20);
const LEVELS = (stringArg('levels') ?? '1,16,64').split(',').map(Number);
const SNAPSHOT_EVERY = intArg('snapshot-every', 100_000);
const WARMUP = intArg('warmup', 5);
const SLICES = Math.max(1, intArg('slices', 5));
const SLICE_S = SECONDS / SLICES;
const OUT = stringArg('out');
const shoalArgs = ['--snapshot-interval', String(SNAPSHOT_EVERY)];

/** The issue's goals, as ratios shoal / etcd: throughput at least, p99 at most. */
const GOALS: Record<number, { throughput: number; p99: number }> = {
  1: { throughput: 1.0, p99: 1.0 },
  64: { throughput: 1.3, p99: 0.9 },
};

interface Sample extends Omit<LoadResult, 'latencies'> {
  /** Cores the load generator (this process) used while loading. */
  cpu: number;
  /** 1-minute load average when the sample ended: how busy the shared machine was. */
  load1: number;
}

/** One slice of load on one system, with the load generator's CPU time during it. */
type Part = LoadResult & { cpuMs: number };

async function timed(fn: () => Promise<LoadResult>): Promise<Part> {
  const c0 = process.cpuUsage();
  const r = await fn();
  const c = process.cpuUsage(c0);
  return { ...r, cpuMs: (c.user + c.system) / 1000 };
}

/** A level's slices for one system, pooled into one sample. */
function sampleOf(parts: readonly Part[]): Sample {
  const { latencies: _, ...r } = pooled(parts);
  const cpuMs = parts.reduce((a, p) => a + p.cpuMs, 0);
  return { ...r, cpu: cpuMs / 1000 / r.seconds, load1: loadavg()[0]! };
}

interface Extra {
  perFsync: number[];
  spurious: number;
}

/** One run: both groups up, each level loaded on one then the other. */
async function run(r: number, shoal: Map<number, Sample[]>, etcd: Map<number, Sample[]>, extra: Extra): Promise<void> {
  const s = new KvCluster(3, 27300 + r * 10, shoalArgs);
  const e = new EtcdCluster(undefined, SNAPSHOT_EVERY);
  try {
    await Promise.all([s.startAll(), e.startAll()]);
    const [sLeader, eLeader] = await Promise.all([s.waitForLeader(), e.waitForLeader()]);
    // Both groups get the same unmeasured load first. A fresh Node process spends its first seconds
    // compiling hot code and growing its heap (shoal's 1-writer p99 on a cold start ran 1.5-2x its
    // steady value here), which a Go binary does not; a long-running manager is past that.
    if (WARMUP > 0) {
      await runLoad({ kind: 'shoal', endpoints: s.endpoints }, 16, WARMUP);
      await runLoad({ kind: 'etcd', endpoint: e.clientUrl(eLeader) }, 16, WARMUP);
    }
    const shoalSlice = (w: number): Promise<Part> =>
      timed(() => runLoad({ kind: 'shoal', endpoints: s.endpoints }, w, SLICE_S));
    const etcdSlice = (w: number): Promise<Part> =>
      timed(() => runLoad({ kind: 'etcd', endpoint: e.clientUrl(eLeader) }, w, SLICE_S));
    for (const level of LEVELS) {
      const before = (await s.status(sLeader))!;
      const sParts: Part[] = [];
      const eParts: Part[] = [];
      // Slices go A B, B A, A B ..., starting with the other system each run: a spell of disk or
      // CPU noise on this shared machine (seconds long) then lands on both systems alike.
      for (let k = 0; k < SLICES; k++) {
        if ((r + k) % 2 === 0) {
          sParts.push(await shoalSlice(level));
          eParts.push(await etcdSlice(level));
        } else {
          eParts.push(await etcdSlice(level));
          sParts.push(await shoalSlice(level));
        }
      }
      shoal.get(level)!.push(sampleOf(sParts));
      etcd.get(level)!.push(sampleOf(eParts));
      const after = (await s.status(sLeader))!;
      if (after.term !== before.term || !after.isLeader) extra.spurious++;
      if (level === 64) extra.perFsync.push((after.entries - before.entries) / Math.max(1, after.syncs - before.syncs));
      const a = shoal.get(level)!.at(-1)!;
      const b = etcd.get(level)!.at(-1)!;
      console.error(
        `run ${r + 1} ${level}w: shoal ${a.opsPerSec.toFixed(0)} ops/s p50 ${a.p50Ms.toFixed(2)} p99 ${a.p99Ms.toFixed(2)} ms | ` +
          `etcd ${b.opsPerSec.toFixed(0)} ops/s p50 ${b.p50Ms.toFixed(2)} p99 ${b.p99Ms.toFixed(2)} ms | ` +
          `ratio ${(a.opsPerSec / b.opsPerSec).toFixed(2)}x ops, ${(a.p99Ms / b.p99Ms).toFixed(2)}x p99 | load ${a.load1.toFixed(1)}`,
      );
    }
  } finally {
    await Promise.all([s.destroy(), e.destroy()]);
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

type Summary = Record<string, { ops_s: number; p50_ms: number; p99_ms: number; errors: number }>;

function summary(samples: Map<number, Sample[]>): Summary {
  const o: Summary = {};
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

const raw = (
  samples: Map<number, Sample[]>,
): Record<string, { ops_s: number; p50_ms: number; p99_ms: number; load1: number }[]> =>
  Object.fromEntries(
    [...samples].map(([level, s]) => [
      `writers_${level}`,
      s.map((x) => ({
        ops_s: round3(x.opsPerSec),
        p50_ms: round3(x.p50Ms),
        p99_ms: round3(x.p99Ms),
        load1: round3(x.load1),
      })),
    ]),
  );

async function main(): Promise<void> {
  const shoal = new Map(LEVELS.map((l) => [l, [] as Sample[]]));
  const etcd = new Map(LEVELS.map((l) => [l, [] as Sample[]]));
  const extra: Extra = { perFsync: [], spurious: 0 };
  for (let r = 0; r < RUNS; r++) await run(r, shoal, etcd, extra);
  const shoalKills = KILLS > 0 ? await shoalFailover() : [];
  if (KILLS > 0) console.error(`shoal failover: ${shoalKills.map((t) => t.toFixed(2)).join(' ')}`);
  const etcdKills = KILLS > 0 ? await etcdFailover() : [];
  if (KILLS > 0) console.error(`etcd failover: ${etcdKills.map((t) => t.toFixed(2)).join(' ')}`);
  const s = summary(shoal);
  const e = summary(etcd);
  const cpu = [...shoal.values(), ...etcd.values()].flat().map((x) => x.cpu);
  const ratio: Record<string, { throughput: number; p99: number; goal?: string }> = {};
  for (const level of LEVELS) {
    const k = `writers_${level}`;
    const tp = round3(s[k]!.ops_s / e[k]!.ops_s);
    const p99 = round3(s[k]!.p99_ms / e[k]!.p99_ms);
    const g = GOALS[level];
    ratio[k] = {
      throughput: tp,
      p99,
      ...(g
        ? {
            goal: `throughput >= ${g.throughput} ${tp >= g.throughput ? 'met' : 'MISSED'}, p99 <= ${g.p99} ${p99 <= g.p99 ? 'met' : 'MISSED'}`,
          }
        : {}),
    };
    console.error(`ratio ${level}w: throughput ${tp}x, p99 ${p99}x${g ? ` (${ratio[k]!.goal})` : ''}`);
  }
  const load = [...shoal.values(), ...etcd.values()].flat().map((x) => x.load1);
  const result = {
    bench: 'raft',
    seconds: SECONDS,
    runs: RUNS,
    value_bytes: 256,
    snapshot_every: SNAPSHOT_EVERY,
    warmup_s: WARMUP,
    slices: SLICES,
    shoal: s,
    etcd: e,
    ratio,
    shoal_entries_per_fsync_at_64: extra.perFsync.length ? round3(median(extra.perFsync)) : null,
    shoal_spurious_leader_changes_under_load: extra.spurious,
    loadgen_cpu_cores_max: round3(Math.max(...cpu)),
    machine_load1: { min: round3(Math.min(...load)), median: round3(median(load)), max: round3(Math.max(...load)) },
    failover_s: {
      shoal: shoalKills.length
        ? { median: round3(median(shoalKills)), max: round3(Math.max(...shoalKills)), kills: shoalKills.length }
        : null,
      etcd: etcdKills.length
        ? { median: round3(median(etcdKills)), max: round3(Math.max(...etcdKills)), kills: etcdKills.length }
        : null,
    },
    raw: {
      shoal: raw(shoal),
      etcd: raw(etcd),
      failover_s: { shoal: shoalKills.map(round3), etcd: etcdKills.map(round3) },
    },
  };
  if (OUT) writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
