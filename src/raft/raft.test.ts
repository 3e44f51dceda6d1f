/**
 * Raft behaviour through whole RaftNodes on the in-memory driver (testing.ts: simulated disks,
 * virtual time, a network that cuts links), plus the few core rules only a scripted core can reach.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SeededRandom } from '../common/random.js';
import { plainCipher } from './cipher.js';
import { Raft } from './raft.js';
import { SimCluster, text } from './testing.js';
import { NotLeaderError, type Entry } from './types.js';
import { RaftWal } from './wal.js';

const clusters: SimCluster[] = [];
after(() => {
  for (const c of clusters) c.stop();
});

async function cluster(ids: string[], opts: ConstructorParameters<typeof SimCluster>[1] = {}): Promise<SimCluster> {
  const c = new SimCluster(ids, opts);
  clusters.push(c);
  await c.start();
  return c;
}

const leaders = (c: SimCluster): number => c.running().filter((n) => n.isLeader).length;
const termOf = (c: SimCluster, id: string): number => c.node(id).debugState().term;

/** Ticks `c` (up to 30 times) until the membership change `p` settles, then returns its outcome. */
async function settled(c: SimCluster, p: Promise<number>): Promise<void> {
  let done = false;
  p.finally(() => (done = true)).catch(() => undefined);
  for (let i = 0; i < 30 && !done; i++) await c.tick();
  await p;
}

/** Takes every Ready of a bare core, as if persisted at once; returns the messages it sent. */
function drain(r: Raft): Entry[] {
  const committed: Entry[] = [];
  while (r.hasReady()) {
    const rd = r.ready();
    r.advance(rd.entries.at(-1)?.index ?? 0, rd.entries.at(-1)?.term);
    committed.push(...rd.committed);
  }
  return committed;
}

/** A bare core campaigns and `granters` grant its pre-vote and vote. */
function winElection(r: Raft, granters: string[]): void {
  for (let i = 0; i < 40 && r.role !== 'leader'; i++) {
    r.tick();
    while (r.hasReady()) {
      const rd = r.ready();
      r.advance(rd.entries.at(-1)?.index ?? 0, rd.entries.at(-1)?.term);
      for (const m of rd.messages) {
        if ((m.type === 'preVote' || m.type === 'vote') && granters.includes(m.to))
          r.step({
            type: m.type === 'preVote' ? 'preVoteResp' : 'voteResp',
            from: m.to,
            to: r.id,
            term: m.term,
            reject: false,
          });
      }
    }
  }
}

describe('raft: elections', () => {
  it('a single member elects itself and commits alone', async () => {
    const c = await cluster(['a']);
    const l = await c.elect();
    assert.equal(l.leader, 'a');
    await c.propose(l, 'x');
    assert.deepEqual(c.applied('a'), ['x']);
  });

  it('three members elect exactly one leader and replicate to all', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const l = await c.elect();
    assert.equal(leaders(c), 1);
    await c.propose(l, '1');
    await c.propose(l, '2');
    await c.tick(3);
    for (const id of ['a', 'b', 'c']) assert.deepEqual(c.applied(id), ['1', '2']);
  });

  it('resolves split votes through randomized timeouts', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const c = await cluster(['a', 'b', 'c', 'd', 'e'], { seed });
      const l = await c.elect(400);
      const term = l.debugState().term;
      assert.equal(c.running().filter((n) => n.isLeader && n.debugState().term === term).length, 1);
      c.stop();
    }
  });

  it('pre-vote: a member rejoining after a long partition does not disrupt the leader', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const l = await c.elect();
    const lid = l.leader;
    const follower = c.ids().find((id) => id !== lid)!;
    const termBefore = termOf(c, lid);
    c.isolate(follower);
    await c.tick(100);
    assert.equal(termOf(c, follower), termBefore, 'pre-votes do not raise the term');
    c.heal();
    await c.tick(5);
    assert.equal(c.leader()?.leader, lid);
    assert.equal(termOf(c, lid), termBefore);
  });

  it('check-quorum: a leader cut off from the majority steps down and refuses writes', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const l = await c.elect();
    c.isolate(l.leader);
    await c.tick(25);
    assert.equal(l.isLeader, false);
    await assert.rejects(l.propose(text('lost')), NotLeaderError);
  });

  it('a deposed leader learns the new term and follows when healed', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const old = await c.elect();
    const oldId = old.leader;
    c.isolate(oldId);
    await c.tick(50);
    const fresh = c.leader()!;
    assert.notEqual(fresh.leader, oldId);
    c.heal();
    await c.tick(3);
    assert.equal(old.isLeader, false);
    assert.equal(old.leader, fresh.leader);
    assert.equal(termOf(c, oldId), fresh.debugState().term);
  });

  it('transfers leadership on request', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const l = await c.elect();
    const target = c.ids().find((id) => id !== l.leader)!;
    l.transferLeadership(target);
    await c.tick(5);
    assert.equal(c.leader()?.leader, target);
  });
});

describe('raft: log replication (paper figures)', () => {
  it('a follower whose pipelined appends were lost catches up on heartbeats alone, with no new writes', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const l = await c.elect();
    await c.propose(l, '0');
    const f = c.ids().find((id) => id !== l.leader)!;
    c.isolate(f);
    for (const v of ['1', '2', '3']) await c.propose(l, v);
    c.heal();
    await c.tick(5);
    assert.deepEqual(c.applied(f), ['0', '1', '2', '3']);
  });

  it('figure 7: repairs followers with missing and extra entries (each starting from its own WAL)', async () => {
    // The leader (term 8) holds the full log; followers lag, diverge, or carry extra uncommitted entries.
    const logs: Record<string, number[]> = {
      a: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6],
      b: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      c: [1, 1, 1, 4],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      e: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      f: [1, 1, 1, 4, 4, 4, 4],
      g: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    const ids = Object.keys(logs);
    // a campaigns first (the others' election timeouts are long); e has a newer last term, so a
    // needs votes from the rest.
    const perMember = Object.fromEntries(ids.filter((id) => id !== 'a').map((id) => [id, { electionTick: () => 200 }]));
    const c = new SimCluster(ids, { perMember });
    clusters.push(c);
    for (const [id, terms] of Object.entries(logs)) {
      const wal = new RaftWal(`/${id}/wal`, plainCipher, undefined, undefined, c.disk(id).fs());
      await wal.open();
      await wal.append(
        { term: 7, vote: '', commit: 0 },
        terms.map((term, i) => ({ term, index: i + 1, type: 'normal', data: text(`${i + 1}@${term}`) })),
      );
    }
    c.cut.add('a->e');
    c.cut.add('e->a');
    await c.start();
    const l = await c.elect(100);
    assert.equal(l.leader, 'a');
    c.heal();
    await c.propose(l, 'new');
    await c.tick(10);
    const reference = [...logs.a!.map((t, i) => `${i + 1}@${t}`), 'new'];
    for (const id of ids) assert.deepEqual(c.applied(id), reference, `log of ${id}`);
  });

  it('figure 8: never commits an entry of an earlier term by counting replicas', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const random = new SeededRandom(5);
    const entries = (terms: number[]): Entry[] =>
      terms.map((term, i) => ({ term, index: i + 1, type: 'normal', data: text(`${i + 1}@${term}`) }));
    // a was leader in term 2 and replicated entry 2 (term 2) to b only; it is now re-elected in term 4.
    const a = new Raft(
      { id: 'a', voters: ids, electionTick: 10, heartbeatTick: 1, random },
      { hardState: { term: 3, vote: '', commit: 1 }, entries: entries([1, 2]) },
    );
    // Let a win (the others grant its pre-vote and vote); nothing is replicated yet.
    winElection(a, ['b', 'c']);
    assert.equal(a.role, 'leader');
    // c replicates entry 2 (term 2): a, b, c now hold it — a majority — but it is from term 2.
    a.step({
      type: 'appendResp',
      from: 'c',
      to: 'a',
      term: a.term,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: a.term,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    drain(a);
    assert.equal(a.commit, 1, 'entry 2 of term 2 is not committed by counting');
    // Once the new leader's own entry (index 3, its term) is on a majority, both commit.
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: a.term,
      reject: false,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    a.step({
      type: 'appendResp',
      from: 'c',
      to: 'a',
      term: a.term,
      reject: false,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    assert.equal(a.commit, 3);
  });

  it('a leader with a stale log cannot win an election', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const l = await c.elect();
    const lid = l.leader;
    const [x, y] = c.ids().filter((id) => id !== lid) as [string, string];
    c.isolate(x);
    await c.propose(l, 'only-on-two');
    // Now the member without the entry may not lead: it is behind the others.
    c.heal();
    c.isolate(lid);
    await c.tick(60);
    assert.equal(c.leader()?.leader, y, 'only the member holding every committed entry can be elected');
    await c.tick(5);
    assert.ok(c.applied(x).includes('only-on-two'));
  });
});

describe('raft: batched proposals', () => {
  it('proposals made together reach each follower as one append (one WAL record), and commit everywhere', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const l = await c.elect();
    await c.propose(l, 'warm-up');
    await c.tick(3);
    const followers = c.ids().filter((id) => c.node(id) !== l);
    const before = followers.map((id) => c.node(id).stats);
    const all = Promise.all(['1', '2', '3'].map((v) => l.propose(text(v))));
    await c.tick(5);
    const indexes = await all;
    assert.deepEqual(indexes, [indexes[0]!, indexes[0]! + 1, indexes[0]! + 2], 'consecutive entries');
    await c.tick(3);
    followers.forEach((id, i) => {
      const after = c.node(id).stats;
      assert.equal(after.entries - before[i]!.entries, 3, `${id} wrote the three entries`);
      assert.equal(after.syncs - before[i]!.syncs, 1, `${id} wrote them as one record`);
    });
    for (const id of c.ids()) assert.deepEqual(c.applied(id), ['warm-up', '1', '2', '3']);
  });

  it('proposeAll splits a large batch into appends of at most maxEntriesPerMsg, within flow control', () => {
    const r = new Raft({
      id: 'a',
      voters: ['a', 'b', 'c'],
      electionTick: 10,
      heartbeatTick: 1,
      random: new SeededRandom(3),
      maxEntriesPerMsg: 4,
      maxInflight: 2,
    });
    winElection(r, ['b', 'c']);
    assert.equal(r.role, 'leader');
    const base = r.log.lastIndex;
    // b has everything so far: from here on only the batch is sent to it.
    r.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: r.term,
      reject: false,
      index: base,
      hintIndex: 0,
      hintTerm: 0,
    });
    drain(r);
    r.proposeAll(Array.from({ length: 20 }, (_, i) => text(String(i))));
    const got: string[] = [];
    for (let round = 0; round < 20 && got.length < 20; round++) {
      const sent = [];
      while (r.hasReady()) {
        const rd = r.ready();
        r.advance(rd.entries.at(-1)?.index ?? 0, rd.entries.at(-1)?.term);
        sent.push(...rd.messages.filter((m) => m.type === 'append' && m.to === 'b' && m.entries.length));
      }
      assert.ok(sent.length <= 2, `at most 2 appends in flight, got ${sent.length}`);
      for (const m of sent) {
        if (m.type !== 'append') continue;
        assert.ok(m.entries.length <= 4, `an append of ${m.entries.length} entries`);
        got.push(...m.entries.map((e) => new TextDecoder().decode(e.data)));
        const last = m.entries.at(-1)!.index;
        r.step({
          type: 'appendResp',
          from: 'b',
          to: 'a',
          term: r.term,
          reject: false,
          index: last,
          hintIndex: 0,
          hintTerm: 0,
        });
      }
    }
    assert.deepEqual(
      got,
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
  });

  it('proposeAll off the leader throws NotLeaderError and appends nothing', () => {
    const f = new Raft({
      id: 'b',
      voters: ['a', 'b', 'c'],
      electionTick: 10,
      heartbeatTick: 1,
      random: new SeededRandom(4),
    });
    const last = f.log.lastIndex;
    assert.throws(() => f.proposeAll([text('x')]), NotLeaderError);
    assert.equal(f.log.lastIndex, last);
  });
});

describe('raft: reads and membership', () => {
  it('confirms a ReadIndex with a heartbeat round, and not on a minority', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const l = await c.elect();
    await c.tick(2);
    let confirmed = false;
    void l.readBarrier(1000).then(() => (confirmed = true));
    // A heartbeat round: out at the next tick, the answers back at the one after (and a pass to see them).
    await c.tick(4);
    assert.ok(confirmed, 'a read confirmed by a majority');
    c.isolate(l.leader);
    let outcome = 'pending';
    l.readBarrier(50).then(
      () => (outcome = 'confirmed'),
      (e: unknown) => (outcome = e instanceof NotLeaderError ? 'refused' : String(e)),
    );
    await c.tick(8);
    assert.equal(outcome, 'refused', 'an isolated leader cannot confirm a read');
  });

  it('adds a learner, promotes it to voter, and removes a member', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const l = await c.elect();
    await c.propose(l, 'before');
    c.add('d', ['a', 'b', 'c']);
    await c.start('d');
    await settled(c, l.changeMembership({ kind: 'addLearner', member: 'd' }));
    await c.tick(3);
    assert.ok(c.applied('d').includes('before'), 'the learner catches up');
    assert.ok(l.members().learners.includes('d'));
    await settled(c, l.changeMembership({ kind: 'add', member: 'd' }));
    assert.ok(l.members().voters.includes('d'));
    const victim = ['a', 'b', 'c'].find((id) => id !== l.leader)!;
    await settled(c, l.changeMembership({ kind: 'remove', member: victim }));
    assert.ok(!l.members().voters.includes(victim));
    c.crash(victim);
    await c.propose(l, 'after');
    await c.tick(2);
    assert.ok(c.applied('d').includes('after'));
  });

  it("counts a promoted learner's acknowledgements towards commit (regression: it stayed a learner in progress)", async () => {
    const c = await cluster(['a']);
    const l = await c.elect();
    c.add('b', ['a']);
    await c.start('b');
    await settled(c, l.changeMembership({ kind: 'addLearner', member: 'b' }));
    await settled(c, l.changeMembership({ kind: 'add', member: 'b' }));
    assert.ok(l.members().voters.includes('b'));
    assert.ok(l.peers().some((p) => p.id === 'b' && !p.learner));
    // With two voters, a's entry commits only with b's acknowledgement.
    c.isolate('b');
    let committed = false;
    void l.propose(text('both')).then(
      () => (committed = true),
      () => undefined,
    );
    await c.tick(5);
    assert.equal(committed, false, 'not committed without b');
    c.heal();
    await c.tick(10);
    assert.ok(committed && c.applied('a').includes('both') && c.applied('b').includes('both'));
  });
  it('a membership change stays pending until the wrapper has applied it, not merely handed it out', () => {
    // A single voter commits a conf entry as soon as it is persisted; the wrapper then holds it in a
    // Ready while it writes and applies (an await in RaftNode). A second change proposed in that
    // window must be refused: the leader still runs with the old membership.
    const l = new Raft({ id: 'a', voters: ['a'], electionTick: 10, heartbeatTick: 1, random: new SeededRandom(1) });
    l.step({ type: 'timeoutNow', from: 'a', to: 'a', term: 0 });
    const drain = (): Entry[] => {
      const out: Entry[] = [];
      while (l.hasReady()) {
        const r = l.ready();
        l.advance(r.entries.at(-1)?.index ?? 0);
        out.push(...r.committed);
      }
      return out;
    };
    for (const e of drain()) l.appliedTo(e.index);
    const first = l.proposeConfChange({ kind: 'addLearner', member: 'b' });
    const handedOut = drain();
    assert.ok(
      handedOut.some((e) => e.index === first),
      'the change is committed and handed out',
    );
    assert.throws(() => l.proposeConfChange({ kind: 'addLearner', member: 'c' }), /already in progress/);
    l.applyConfChange({ kind: 'addLearner', member: 'b' }, first);
    l.appliedTo(first);
    assert.doesNotThrow(() => l.proposeConfChange({ kind: 'addLearner', member: 'c' }));
  });
});

describe('raft: snapshots to followers', () => {
  it('a snapshot from the leader counts as applied only once the wrapper has restored it', () => {
    // Found by the node simulator: the core called it applied when the message arrived, so a local
    // snapshot started before the wrapper restored its state machine was labelled with the leader's
    // index but held the old state (and replaced the good file), and a read at that index could
    // have been served from the old state.
    const f = new Raft({
      id: 'b',
      voters: ['a', 'b'],
      electionTick: 10,
      heartbeatTick: 1,
      random: new SeededRandom(2),
    });
    const snapshot = { index: 40, term: 3, voters: ['a', 'b'], learners: [], removed: [] };
    f.step({ type: 'snapshot', from: 'a', to: 'b', term: 3, snapshot, data: new Uint8Array([1]) });
    assert.equal(f.appliedIndex, 0, 'not applied while the wrapper has not restored it');
    const r = f.ready();
    assert.equal(r.snapshot?.index, 40, 'handed out to the wrapper');
    assert.deepEqual(r.committed, [], 'no entry below it is handed out again');
    assert.throws(() => f.snapshotTaken(40, 0), /beyond applied/);
    f.advance(0);
    f.appliedTo(40);
    assert.equal(f.appliedIndex, 40);
  });

  it('a follower far behind catches up from a snapshot streamed in parts', async () => {
    const c = await cluster(['a', 'b', 'c'], { snapshotInterval: () => 5, keepEntries: () => 0 });
    const l = await c.elect();
    const lag = c.ids().find((id) => id !== l.leader)!;
    c.isolate(lag);
    for (let i = 0; i < 12; i++) await c.propose(l, `v${i}`);
    c.heal();
    await c.tick(20);
    assert.deepEqual(c.applied(lag), c.applied(l.leader));
    assert.ok(c.node(lag).stats.snapshotsInstalled > 0, 'it was sent a snapshot');
  });
});

describe('raft: removed members', () => {
  it('a forced sole voter refuses its former members: they learn they were removed and cannot depose it', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const first = await c.elect();
    await c.propose(first, 'x');
    await c.tick(2);
    // a recovers alone (force-new-cluster) while b and c carry on as the old group.
    c.isolate('a');
    c.crash('a');
    await c.startWith({ forceNewCluster: true }, 'a');
    await c.tick(2);
    const keep = c.node('a');
    assert.ok(keep.isLeader);
    const forcedTerm = termOf(c, 'a');
    await c.tick(40);
    const old = c.running().find((n) => n !== keep && n.isLeader);
    assert.ok(old, 'the former members elect a leader among themselves');
    // Give the old group a higher term than the forced member's (leadership handed back and forth).
    for (let i = 0; i < 5 && Math.max(termOf(c, 'b'), termOf(c, 'c')) <= forcedTerm; i++) {
      const now = c.running().find((n) => n !== keep && n.isLeader);
      now?.transferLeadership(['b', 'c'].find((id) => id !== now.leader)!);
      await c.tick(20);
    }
    assert.ok(Math.max(termOf(c, 'b'), termOf(c, 'c')) > forcedTerm);
    c.heal();
    await c.tick(20);
    assert.ok(keep.isLeader, 'messages of a higher term from removed members do not depose it');
    assert.equal(termOf(c, 'a'), forcedTerm);
    assert.ok(c.removedNotices.length > 0, 'the former members are told they were removed');
    await c.propose(keep, 'after');
    assert.deepEqual(c.applied('a'), ['x', 'after']);
  });

  it('a removed member is refused, also by a leader restarted from a snapshot, until it is added again', async () => {
    const c = await cluster(['a', 'b', 'c', 'd'], { snapshotInterval: () => 3, keepEntries: () => 0 });
    const l = await c.elect();
    const lid = l.leader;
    const victim = c.ids().find((id) => id !== lid)!;
    let done = false;
    l.changeMembership({ kind: 'remove', member: victim })
      .finally(() => (done = true))
      .catch(() => undefined);
    for (let i = 0; i < 30 && !done; i++) await c.tick();
    for (const v of ['y1', 'y2', 'y3', 'y4']) await c.propose(l, v); // past a snapshot
    // The leader restarts from its snapshot (the WAL before it is cut); the victim keeps asking.
    c.crash(lid);
    await c.start(lid);
    await c.tick(30);
    assert.ok(
      c.removedNotices.some((n) => n.endsWith(`->${victim}`)),
      'the victim is told it was removed',
    );
    const now = c.leader()!;
    assert.ok(!now.members().voters.includes(victim));
    done = false;
    now
      .changeMembership({ kind: 'addLearner', member: victim })
      .finally(() => (done = true))
      .catch(() => undefined);
    for (let i = 0; i < 30 && !done; i++) await c.tick();
    assert.ok(now.members().learners.includes(victim), 'a member added again is accepted again');
  });
});
