/**
 * Raft as real processes over real TCP on loopback (the static-peer bootstrap): three members of the
 * raft-kv harness, a stream of writes, kill -9 of the leader. A new leader takes over, and every
 * acknowledged write is on the survivors and on the killed member once it restarts (which catches up
 * through InstallSnapshot: snapshots are frequent and few entries are kept behind them).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { httpCall, KvCluster } from '../raft-kv/cluster.js';

describe('raft over TCP, as real processes', { timeout: 300_000 }, () => {
  const cluster = new KvCluster(3, 27100, ['--tick-ms', '20', '--snapshot-interval', '200', '--keep-entries', '20']);
  after(() => cluster.destroy());

  it('kill -9 of the leader during writes: a new leader is elected and no acknowledged write is lost', async () => {
    await cluster.startAll();
    const first = await cluster.waitForLeader();
    const acked = new Map<string, string>();
    let stop = false;
    let seq = 0;
    let ackedAfterKill = 0;
    let killed = false;
    const writer = async (w: number): Promise<void> => {
      let target = first;
      while (!stop) {
        const key = `w${w}-${seq++}`;
        const value = `v${seq}`;
        try {
          const r = await httpCall(`${cluster.clientUrl(target)}/kv/${key}`, 'PUT', value, 2000);
          if (r.status === 204) {
            acked.set(key, value);
            if (killed) ackedAfterKill++;
            continue;
          }
          if (r.status === 421) {
            const leader = (JSON.parse(r.body) as { leader: string }).leader;
            if (leader && cluster.running(leader)) target = leader;
          }
        } catch {
          // Connection refused or timed out (the member was killed): try someone else.
          const alive = cluster.ids.filter((id) => cluster.running(id));
          target = alive[(alive.indexOf(target) + 1) % alive.length] ?? alive[0]!;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const writers = Array.from({ length: 8 }, (_, i) => writer(i));
    await new Promise((r) => setTimeout(r, 2000));
    const before = acked.size;
    assert.ok(before > 50, `writes flow before the kill (${before})`);
    const victim = (await cluster.leader())!;
    await cluster.kill(victim);
    killed = true;
    const t0 = Date.now();
    const next = await cluster.waitForLeader(30_000);
    assert.notEqual(next, victim);
    while (ackedAfterKill < 50 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(ackedAfterKill >= 50, `writes flow again after the failover (${ackedAfterKill})`);
    // Bring the killed member back while writes go on, then stop writing.
    await cluster.start(victim);
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(writers);
    // Every member converges on the same applied index, holding every acknowledged write.
    const end = Date.now() + 60_000;
    for (;;) {
      const st = await Promise.all(cluster.ids.map((id) => cluster.status(id)));
      if (st.every((s) => s && s.applied === st[0]!.applied && s.applied === s.commit && s.applied > 0)) break;
      if (Date.now() > end) throw new Error(`members did not converge: ${JSON.stringify(st)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const id of cluster.ids) {
      const dump = JSON.parse((await httpCall(`${cluster.clientUrl(id)}/dump`)).body) as Record<string, string>;
      const missing = [...acked].filter(([k, v]) => dump[k] !== v).map(([k]) => k);
      assert.deepEqual(
        missing.slice(0, 10),
        [],
        `${id} is missing ${missing.length} of ${acked.size} acknowledged writes`,
      );
    }
    const restarted = await cluster.status(victim);
    assert.ok(
      restarted && restarted.snapshotsInstalled > 0,
      `the restarted member caught up through InstallSnapshot: ${JSON.stringify(restarted)}`,
    );
  });
});
