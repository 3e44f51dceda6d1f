/**
 * A 100 MB manager state through Raft's snapshot path: how long creating (capture, encode, seal,
 * write, fsync) and restoring (read, open, decode, load) take, and how much the event loop is
 * delayed meanwhile (p99 and max, sampled every 1 ms), since a stalled loop misses heartbeats.
 * Also sending it to a follower: read, open, cut into 256 KB parts and encode each for the wire. Prints one JSON object.
 *
 *   node dist/bench/raft/snapshot.js [--mb 100]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { systemClock } from '../../src/common/clock.js';
import { RaftProposer, StoreStateMachine } from '../../src/daemon/raft-store.js';
import { AesGcmCipher } from '../../src/raft/cipher.js';
import { readSnapshot, snapshotParts, writeSnapshot } from '../../src/raft/snapshot-file.js';
import { frame } from '../../src/common/record.js';
import { encodeMessage } from '../../src/raft/wire.js';
import { Store } from '../../src/store/store.js';
import type { AnyObject, Table } from '../../src/store/types.js';
import { intArg, round3 } from '../common.js';

const MB = intArg('mb', 100);

function syntheticTasks(bytes: number): { table: Table; object: AnyObject }[] {
  const out: { table: Table; object: AnyObject }[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const object = {
      ID: `task${String(i).padStart(21, '0')}`,
      Version: { Index: i + 1 },
      CreatedAt: 1_700_000_000_000 + i,
      UpdatedAt: 1_700_000_000_000 + i,
      ServiceID: `svc${i % 100}`,
      Slot: i,
      NodeID: `node${i % 50}`,
      DesiredState: 'running',
      Spec: {
        ContainerSpec: {
          Image: 'shoal-test/busybox:1',
          Args: ['sleep', '3600'],
          Env: Array.from({ length: 8 }, (_, k) => `VAR_${k}=${'v'.repeat(60)}`),
        },
      },
      Status: {
        Timestamp: 1_700_000_000_000 + i,
        State: 'running',
        Message: 'started',
        ContainerStatus: { ContainerID: 'c'.repeat(64), PID: 1000 + i, ExitCode: 0 },
      },
    } as unknown as AnyObject;
    total += JSON.stringify(object).length;
    out.push({ table: 'task', object });
  }
  return out;
}

async function timed<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; seconds: number; loopP99Ms: number; loopMaxMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  const value = await fn();
  const seconds = (performance.now() - t0) / 1000;
  h.disable();
  return { value, seconds, loopP99Ms: h.percentile(99) / 1e6, loopMaxMs: h.max / 1e6 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-bench-snap-'));
  try {
    const cipher = new AesGcmCipher(Buffer.alloc(32, 1));
    const store = new Store(new RaftProposer(), systemClock);
    const objects = syntheticTasks(MB * 1024 * 1024);
    store.restore(objects.length, objects);
    const sm = new StoreStateMachine(() => store);
    const file = path.join(dir, 'snapshot.snap');
    const meta = { index: objects.length, term: 1, voters: ['m1'], learners: [] };
    const create = await timed(() => writeSnapshot(file, meta, sm.snapshot(), cipher));
    // What a leader does to send it: 256 KB parts, each encoded for the wire (yielding between parts).
    const payload = await timed(async () => {
      let bytes = 0;
      let part = 0;
      for await (const data of snapshotParts(await readSnapshot(file, cipher), 256 * 1024)) {
        bytes += frame(
          encodeMessage({
            type: 'snapshot',
            from: 'm1',
            to: 'm2',
            term: 1,
            snapshot: meta,
            data,
            part: part++,
            last: false,
          }),
        ).length;
        await new Promise((r) => setImmediate(r));
      }
      return bytes;
    });
    const target = new Store(new RaftProposer(), systemClock);
    const restore = await timed(async () =>
      new StoreStateMachine(() => target).restore(meta.index, (await readSnapshot(file, cipher)).chunks()),
    );
    const restored = target.view((tx) => tx.all('task').length);
    if (restored !== objects.length) throw new Error(`restored ${restored} of ${objects.length} objects`);
    const result = {
      bench: 'raft-snapshot',
      state_mb: MB,
      objects: objects.length,
      file_mb: round3(statSync(file).size / 1024 / 1024),
      create: {
        seconds: round3(create.seconds),
        loop_delay_p99_ms: round3(create.loopP99Ms),
        loop_delay_max_ms: round3(create.loopMaxMs),
      },
      send_to_follower: {
        seconds: round3(payload.seconds),
        wire_mb: round3(payload.value / 1024 / 1024),
        loop_delay_p99_ms: round3(payload.loopP99Ms),
        loop_delay_max_ms: round3(payload.loopMaxMs),
      },
      restore: {
        seconds: round3(restore.seconds),
        loop_delay_p99_ms: round3(restore.loopP99Ms),
        loop_delay_max_ms: round3(restore.loopMaxMs),
      },
      goals: { seconds: 3, loop_delay_p99_ms: 20 },
    };
    console.log(JSON.stringify(result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
