/**
 * Raft as real processes over real TCP whose leader's disk fills up: three members of the raft-kv
 * harness, the leader's data directory on a small loop-mounted ext4 filesystem that is nearly full,
 * writers and linearizable readers running. The leader's WAL write fails with ENOSPC: it must stop
 * (exit non-zero saying why) instead of carrying on as a leader without a disk, the other two elect
 * a leader, every acknowledged write is on both survivors, and no read ever returns a value older
 * than one acknowledged before the read began. Once space is given back, the member restarts from
 * its disk (the torn tail cut off) and catches up. Needs root for the loop mount.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { httpCall, KvCluster } from '../raft-kv/cluster.js';
import { LoopDisk } from '../raft-kv/loop-disk.js';

const WRITERS = 8;
const READERS = 4;
/** Big values fill the last free half megabyte after a few hundred writes. */
const VALUE_BYTES = 2048;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUntil<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('raft when the leader’s disk fills up, as real processes', { timeout: 300_000 }, () => {
  let disk: LoopDisk | undefined;
  const cluster = new KvCluster(3, 27500, ['--tick-ms', '20', '--snapshot-interval', '100000']);
  after(async () => {
    await cluster.destroy();
    disk?.destroy();
  });

  it('ENOSPC on the leader: it exits non-zero, the others take over, nothing acknowledged is lost, no stale read', async (t) => {
    disk = new LoopDisk(16);
    const victim = 'm1';
    cluster.dataDirs.set(victim, `${disk.mountPoint}/${victim}`);
    await cluster.startAll();
    // Make the member on the small disk the leader.
    await waitUntil(
      `${victim} to lead`,
      async () => {
        const l = await cluster.leader();
        if (l === victim) return l;
        if (l) await httpCall(`${cluster.clientUrl(l)}/transfer/${victim}`, 'POST').catch(() => undefined);
        await sleep(200);
        return undefined;
      },
      20_000,
    );
    disk.fill(512 * 1024);
    const filledAt = Date.now();

    const acked = new Map<string, string>();
    /** Per writer: the newest register value acknowledged, and the newest one tried. */
    const regAcked: number[] = Array.from({ length: WRITERS }, () => 0);
    const regTried: number[] = Array.from({ length: WRITERS }, () => 0);
    const violations: string[] = [];
    let reads = 0;
    let readsAfterExit = 0;
    let ackedAfterExit = 0;
    let stop = false;
    const exited = (): boolean => cluster.exitOf(victim) !== undefined;

    /** One request to whoever leads, following 421 redirects; undefined when nobody answered. */
    const leaderCall = async (
      from: { target: string },
      p: string,
      method: string,
      body?: string,
    ): Promise<{ status: number; body: string } | undefined> => {
      try {
        const r = await httpCall(`${cluster.clientUrl(from.target)}${p}`, method, body, 3000);
        if (r.status === 421) {
          const leader = (JSON.parse(r.body) as { leader: string }).leader;
          if (leader && leader !== from.target && cluster.running(leader)) from.target = leader;
          else await sleep(20);
          return undefined;
        }
        return r;
      } catch {
        // Refused or timed out (the member stopped): try the next running member.
        const alive = cluster.ids.filter((id) => cluster.running(id));
        from.target = alive[(alive.indexOf(from.target) + 1) % alive.length] ?? victim;
        await sleep(20);
        return undefined;
      }
    };

    const writer = async (w: number): Promise<void> => {
      const at = { target: victim };
      for (let seq = 1; !stop; seq++) {
        const key = `w${w}-${seq}`;
        const value = randomBytes(VALUE_BYTES / 2).toString('hex');
        const r = await leaderCall(at, `/kv/${key}`, 'PUT', value);
        if (r?.status === 204) {
          acked.set(key, value);
          if (exited()) ackedAfterExit++;
        }
        regTried[w] = seq;
        const rr = await leaderCall(at, `/kv/r${w}`, 'PUT', String(seq));
        if (rr?.status === 204) regAcked[w] = Math.max(regAcked[w]!, seq);
      }
    };

    const reader = async (n: number): Promise<void> => {
      const at = { target: victim };
      for (let i = 0; !stop; i++) {
        const w = (n + i) % WRITERS;
        const floor = regAcked[w]!; // acknowledged before this read began
        const r = await leaderCall(at, `/kv/r${w}`, 'GET');
        if (!r || (r.status !== 200 && r.status !== 404)) continue;
        reads++;
        if (exited()) readsAfterExit++;
        const got = r.status === 404 ? 0 : Number(r.body);
        if (got < floor)
          violations.push(`stale read of r${w} from ${at.target}: ${got} after ${floor} was acknowledged`);
        if (got > regTried[w]!) violations.push(`read of r${w} returned ${got}, never written`);
      }
    };

    const load = [
      ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
      ...Array.from({ length: READERS }, (_, n) => reader(n)),
    ];
    try {
      // The leader's disk fills: it must exit on its own, non-zero, saying why.
      const exit = await waitUntil(`${victim} to stop after ENOSPC`, () => cluster.exitOf(victim), 60_000);
      t.diagnostic(
        `${victim} exited ${JSON.stringify(exit)} ${Date.now() - filledAt} ms after the fill, ${acked.size} writes acknowledged`,
      );
      assert.notEqual(exit.code, 0, `${victim} exits non-zero (${JSON.stringify(exit)})`);
      assert.equal(exit.signal, null, `${victim} exits by itself, not by a signal`);
      assert.match(cluster.stderr(victim), /raft stopped after a storage or apply error: .*(ENOSPC|no space left)/i);
      assert.ok(acked.size > 20, `writes were acknowledged before the disk filled (${acked.size})`);
      // The survivors elect a leader and writes and reads flow again.
      const next = await cluster.waitForLeader(30_000);
      assert.notEqual(next, victim);
      await waitUntil(
        'writes and reads after the failover',
        () => (ackedAfterExit >= 50 && readsAfterExit >= 20 ? true : undefined),
        60_000,
      );
    } finally {
      stop = true;
      await Promise.all(load);
    }
    t.diagnostic(
      `${acked.size} writes acknowledged (${ackedAfterExit} after the exit), ${reads} linearizable reads (${readsAfterExit} after)`,
    );
    assert.deepEqual(violations.slice(0, 10), [], `${violations.length} bad reads out of ${reads}`);

    // Every acknowledged write is on both survivors (and each register at least at its last acked value).
    const survivors = cluster.ids.filter((id) => id !== victim);
    const converged = async (ids: string[]): Promise<void> => {
      await waitUntil(
        `${ids.join(', ')} to converge`,
        async () => {
          const st = await Promise.all(ids.map((id) => cluster.status(id)));
          return st.every((s) => s && s.applied === st[0]!.applied && s.applied === s.commit) ? true : undefined;
        },
        60_000,
      );
    };
    const check = async (id: string): Promise<void> => {
      const dump = JSON.parse((await httpCall(`${cluster.clientUrl(id)}/dump`)).body) as Record<string, string>;
      const missing = [...acked].filter(([k, v]) => dump[k] !== v).map(([k]) => k);
      assert.deepEqual(missing.slice(0, 10), [], `${id} lacks ${missing.length} of ${acked.size} acknowledged writes`);
      for (let w = 0; w < WRITERS; w++)
        assert.ok(
          Number(dump[`r${w}`] ?? 0) >= regAcked[w]!,
          `${id}: r${w} is ${dump[`r${w}`]}, ${regAcked[w]} was acknowledged`,
        );
    };
    await converged(survivors);
    for (const id of survivors) await check(id);

    // Space given back, the member restarts from its own disk and catches up.
    disk.release();
    await cluster.start(victim);
    await converged(cluster.ids);
    await check(victim);
  });
});
