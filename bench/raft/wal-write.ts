/**
 * Why WAL segments are zero-filled ahead (src/raft/wal-file.ts): the latency of one O_DSYNC write of a
 * WAL-sized record, appended to a growing file (each write changes the file's size, so the
 * filesystem's journal commits too) vs written over synced zeros (data only). Three writers at once,
 * each in its own process and file, as three members on one host; in the directory given (default
 * /var/tmp, a disk, not tmpfs). Prints per-mode medians over the writers of p50 and p99 and the
 * ratio zeroed / append.
 *
 *   node dist/bench/raft/wal-write.js [--writes 3000] [--bytes 400] [--rounds 3] [--dir /var/tmp]
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { intArg, median, round3 } from '../common.js';

const { O_APPEND, O_CREAT, O_DSYNC, O_TRUNC, O_WRONLY } = constants;
const WRITES = intArg('writes', 3000);
const BYTES = intArg('bytes', 400);
const ROUNDS = intArg('rounds', 3);
const dirArg = process.argv.indexOf('--dir');
const DIR = dirArg >= 0 ? process.argv[dirArg + 1]! : '/var/tmp';

type Mode = 'append' | 'zeroed';
interface Quantiles {
  p50: number;
  p99: number;
}

/** One writer: WRITES synced records into a fresh file; latency quantiles in ms. */
function writer(mode: Mode, dir: string): Quantiles {
  const file = path.join(dir, `wal-${process.pid}`);
  const rec = Buffer.alloc(BYTES, 7);
  let fd: number;
  if (mode === 'append') fd = openSync(file, O_CREAT | O_WRONLY | O_TRUNC | O_APPEND | O_DSYNC, 0o600);
  else {
    const z = openSync(file, O_CREAT | O_WRONLY | O_TRUNC, 0o600);
    writeSync(z, Buffer.alloc(WRITES * BYTES));
    fsyncSync(z);
    closeSync(z);
    fd = openSync(file, O_WRONLY | O_DSYNC);
  }
  const lat: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    const t0 = performance.now();
    if (mode === 'append') writeSync(fd, rec);
    else writeSync(fd, rec, 0, rec.length, i * BYTES);
    lat.push(performance.now() - t0);
  }
  closeSync(fd);
  rmSync(file);
  lat.sort((a, b) => a - b);
  return { p50: lat[Math.floor(lat.length / 2)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
}

/** Three writer processes at once. */
function round(mode: Mode, dir: string): Quantiles[] {
  const self = fileURLToPath(import.meta.url);
  const out = spawnSync(
    'sh',
    [
      '-c',
      `for i in 1 2 3; do node "${self}" --child ${mode} --dir "${dir}" --writes ${WRITES} --bytes ${BYTES} & done; wait`,
    ],
    { encoding: 'utf8' },
  ).stdout;
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Quantiles);
}

const child = process.argv.indexOf('--child');
if (child >= 0) {
  process.stdout.write(`${JSON.stringify(writer(process.argv[child + 1] as Mode, DIR))}\n`);
} else {
  const dir = mkdtempSync(path.join(DIR, 'shoal-wal-write-'));
  try {
    const res: Record<Mode, Quantiles[]> = { append: [], zeroed: [] };
    for (let r = 0; r < ROUNDS; r++) for (const m of ['append', 'zeroed'] as const) res[m].push(...round(m, dir));
    const med = (m: Mode, q: keyof Quantiles): number => round3(median(res[m].map((x) => x[q])));
    for (const m of ['append', 'zeroed'] as const)
      console.log(`${m.padEnd(7)} p50 ${med(m, 'p50')} ms  p99 ${med(m, 'p99')} ms  (${res[m].length} writers)`);
    console.log(
      `ratio zeroed/append: p50 ${round3(med('zeroed', 'p50') / med('append', 'p50'))}x, p99 ${round3(med('zeroed', 'p99') / med('append', 'p99'))}x`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
