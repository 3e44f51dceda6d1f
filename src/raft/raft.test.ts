import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../common/random.js';
import { Raft } from './raft.js';
import { MemCluster, text, untext } from './testing.js';
import { NotLeaderError, type Entry } from './types.js';

const data = (c: MemCluster, id: string): string[] =>
  c.applied
    .get(id)!
    .filter((e) => e.type === 'normal')
    .map((e) => untext(e.data));

describe('raft: elections', () => {
  it('a single member elects itself and commits alone', () => {
    const c = new MemCluster(['a']);
    const l = c.elect();
    assert.equal(l.id, 'a');
    l.propose(text('x'));
    c.stabilize();
    assert.deepEqual(data(c, 'a'), ['x']);
  });

  it('three members elect exactly one leader and replicate to all', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    assert.equal([...c.nodes.values()].filter((n) => n.role === 'leader').length, 1);
    l.propose(text('1'));
    l.propose(text('2'));
    c.stabilize();
    c.tickAll(2);
    for (const id of ['a', 'b', 'c']) assert.deepEqual(data(c, id), ['1', '2']);
  });

  it('resolves split votes through randomized timeouts', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const c = new MemCluster(['a', 'b', 'c', 'd', 'e'], {}, seed);
      const l = c.elect(400);
      assert.equal([...c.nodes.values()].filter((n) => n.role === 'leader' && n.term === l.term).length, 1);
    }
  });

  it('pre-vote: a member rejoining after a long partition does not disrupt the leader', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    const follower = [...c.nodes.keys()].find((id) => id !== l.id)!;
    const termBefore = l.term;
    c.isolate(follower);
    c.tickAll(100);
    assert.equal(c.node(follower).term, termBefore, 'pre-votes do not raise the term');
    c.heal();
    c.tickAll(5);
    assert.equal(c.leader()!.id, l.id);
    assert.equal(c.leader()!.term, termBefore);
  });

  it('check-quorum: a leader cut off from the majority steps down', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    c.isolate(l.id);
    c.tickAll(25);
    assert.notEqual(l.role, 'leader');
    assert.throws(() => l.propose(text('lost')), /leader/);
  });

  it('a stale leader learns the new term and steps down when healed', () => {
    const c = new MemCluster(['a', 'b', 'c'], { checkQuorum: false });
    const old = c.elect();
    c.isolate(old.id);
    c.tickAll(50);
    const fresh = c.leader()!;
    assert.notEqual(fresh.id, old.id);
    c.heal();
    c.tickAll(3);
    assert.equal(old.role, 'follower');
    assert.equal(old.term, fresh.term);
  });

  it('transfers leadership on request', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    const target = [...c.nodes.keys()].find((id) => id !== l.id)!;
    l.transferLeadership(target);
    c.stabilize();
    c.tickAll(2);
    assert.equal(c.leader()!.id, target);
  });
});

describe('raft: log replication (paper figures)', () => {
  it('a follower whose pipelined appends were lost catches up on heartbeats alone, with no new writes', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    l.propose(text('0'));
    c.stabilize();
    const f = [...c.nodes.keys()].find((id) => id !== l.id)!;
    c.isolate(f);
    for (const v of ['1', '2', '3']) l.propose(text(v));
    c.stabilize();
    c.heal();
    c.tickAll(5);
    assert.deepEqual(data(c, f), ['0', '1', '2', '3']);
  });

  const entries = (terms: number[]): Entry[] =>
    terms.map((term, i) => ({ term, index: i + 1, type: 'normal', data: text(`${i + 1}@${term}`) }));

  it('figure 7: repairs followers with missing and extra entries', () => {
    // The leader (term 8) holds the full log; followers lag, diverge, or carry extra uncommitted entries.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<string, number[]> = {
      b: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      c: [1, 1, 1, 4],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      e: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      f: [1, 1, 1, 4, 4, 4, 4],
      g: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    const ids = ['a', ...Object.keys(followers)];
    const random = new SeededRandom(3);
    const c = new MemCluster(ids);
    const make = (id: string, terms: number[]): Raft =>
      new Raft(
        { id, voters: ids, electionTick: 10, heartbeatTick: 1, random },
        { hardState: { term: 7, vote: '', commit: 0 }, entries: entries(terms) },
      );
    c.nodes.set('a', make('a', leaderLog));
    for (const [id, t] of Object.entries(followers)) c.nodes.set(id, make(id, t));
    // a campaigns first; e has a newer last term, so a needs votes from the rest.
    c.cut.add('a->e');
    c.cut.add('e->a');
    for (let i = 0; i < 30 && c.node('a').role !== 'leader'; i++) {
      c.node('a').tick();
      c.stabilize();
    }
    assert.equal(c.node('a').role, 'leader');
    c.heal();
    const l = c.node('a');
    l.propose(text('new'));
    c.stabilize();
    c.tickAll(3);
    const reference = l.log.slice(1, l.log.lastIndex).map((e) => `${e.index}@${e.term}`);
    for (const id of ids) {
      const n = c.node(id);
      assert.deepEqual(
        n.log.slice(1, n.log.lastIndex).map((e) => `${e.index}@${e.term}`),
        reference,
        `log of ${id}`,
      );
    }
  });

  it('figure 8: never commits an entry of an earlier term by counting replicas', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const random = new SeededRandom(5);
    // a was leader in term 2 and replicated entry 2 (term 2) to b only; it is now re-elected in term 4.
    const a = new Raft(
      { id: 'a', voters: ids, electionTick: 10, heartbeatTick: 1, random },
      { hardState: { term: 3, vote: '', commit: 1 }, entries: entries([1, 2]) },
    );
    const c = new MemCluster(ids);
    c.nodes.set('a', a);
    for (const id of ['b', 'c', 'd', 'e']) {
      c.nodes.set(
        id,
        new Raft(
          { id, voters: ids, electionTick: 10, heartbeatTick: 1, random },
          { hardState: { term: 3, vote: '', commit: 1 }, entries: entries(id === 'b' ? [1, 2] : [1]) },
        ),
      );
    }
    // Let a win, but drop every append so nothing is replicated yet.
    c.ignore.add('append');
    for (let i = 0; i < 40 && a.role !== 'leader'; i++) {
      a.tick();
      c.stabilize();
    }
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
    c.stabilize();
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

  it('a leader with a stale log cannot win an election', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    const [x, y] = [...c.nodes.keys()].filter((id) => id !== l.id) as [string, string];
    c.isolate(x);
    l.propose(text('only-on-two'));
    c.stabilize();
    c.tickAll(2);
    // Now the member without the entry may not lead: it is behind the others.
    c.heal();
    c.isolate(l.id);
    c.tickAll(60);
    const nl = c.leader()!;
    assert.equal(nl.id, y, 'only the member holding every committed entry can be elected');
    assert.ok(data(c, x).includes('only-on-two') || c.node(x).log.lastIndex >= 2);
  });
});

describe('raft: batched proposals', () => {
  /** Records the entries of every append `id` receives. */
  const appendsTo = (c: MemCluster, id: string): string[][] => {
    const got: string[][] = [];
    const n = c.node(id);
    const step = n.step.bind(n);
    n.step = (m) => {
      if (m.type === 'append' && m.entries.length) got.push(m.entries.map((e) => untext(e.data)));
      step(m);
    };
    return got;
  };

  it('proposeAll sends each follower one append for the batch, and commits it everywhere', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    c.stabilize();
    const followers = ['a', 'b', 'c'].filter((id) => id !== l.id);
    const got = followers.map((id) => appendsTo(c, id));
    const first = l.proposeAll(['1', '2', '3'].map(text));
    assert.equal(first, l.log.lastIndex - 2);
    c.stabilize();
    c.tickAll(2);
    assert.deepEqual(got, [[['1', '2', '3']], [['1', '2', '3']]]);
    for (const id of ['a', 'b', 'c']) assert.deepEqual(data(c, id), ['1', '2', '3']);
  });

  it('proposeAll splits a large batch into appends of at most maxEntriesPerMsg, within flow control', () => {
    const c = new MemCluster(['a', 'b', 'c'], { maxEntriesPerMsg: 4, maxInflight: 2 });
    const l = c.elect();
    c.stabilize();
    const f = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    const got = appendsTo(c, f);
    l.proposeAll(Array.from({ length: 20 }, (_, i) => text(String(i))));
    c.stabilize();
    c.tickAll(2);
    assert.ok(
      got.every((e) => e.length <= 4),
      `appends of at most 4 entries: ${JSON.stringify(got.map((e) => e.length))}`,
    );
    assert.deepEqual(
      got.flat(),
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
    assert.equal(data(c, f).length, 20);
  });

  it('proposeAll off the leader throws NotLeaderError and appends nothing', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    const f = [...c.nodes.values()].find((n) => n !== l)!;
    const last = f.log.lastIndex;
    assert.throws(() => f.proposeAll([text('x')]), NotLeaderError);
    assert.equal(f.log.lastIndex, last);
  });
});

describe('raft: reads and membership', () => {
  it('confirms a ReadIndex with a heartbeat round, and not on a minority', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    c.tickAll(2);
    const ctx = l.readIndex();
    c.stabilize();
    assert.deepEqual(
      c.reads.get(l.id)!.map((r) => r.ctx),
      [ctx],
    );
    c.isolate(l.id);
    const ctx2 = l.readIndex();
    c.stabilize();
    assert.ok(!c.reads.get(l.id)!.some((r) => r.ctx === ctx2), 'an isolated leader cannot confirm a read');
  });

  it('adds a learner, promotes it to voter, and removes a member', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    l.propose(text('before'));
    c.stabilize();
    c.addMember('d', ['a', 'b', 'c']);
    l.proposeConfChange({ kind: 'addLearner', member: 'd' });
    c.stabilize();
    c.tickAll(3);
    assert.ok(data(c, 'd').includes('before'), 'the learner catches up');
    assert.ok(l.learners.has('d'));
    l.proposeConfChange({ kind: 'add', member: 'd' });
    c.stabilize();
    c.tickAll(2);
    assert.ok(l.voters.has('d'));
    const victim = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    l.proposeConfChange({ kind: 'remove', member: victim });
    c.stabilize();
    c.tickAll(2);
    assert.ok(!l.voters.has(victim));
    c.down.add(victim);
    l.propose(text('after'));
    c.stabilize();
    c.tickAll(2);
    assert.ok(data(c, 'd').includes('after'));
  });

  it("counts a promoted learner's acknowledgements towards commit (regression: it stayed a learner in progress)", () => {
    const c = new MemCluster(['a']);
    const l = c.elect();
    c.addMember('b', ['a']);
    l.proposeConfChange({ kind: 'addLearner', member: 'b' });
    c.stabilize();
    l.proposeConfChange({ kind: 'add', member: 'b' });
    c.stabilize();
    c.tickAll(2);
    assert.ok(l.voters.has('b'));
    assert.equal(l.progress.get('b')!.learner, false);
    // With two voters, a's entry commits only with b's acknowledgement, and b's alone suffices.
    l.propose(text('both'));
    c.stabilize();
    c.tickAll(2);
    assert.ok(data(c, 'a').includes('both') && data(c, 'b').includes('both'));
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
  it('a snapshot still streaming is not sent again; one whose stream ended unanswered is, after an election timeout', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    const lag = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    c.down.add(lag);
    for (let i = 0; i < 10; i++) l.propose(text(`v${i}`));
    c.stabilize();
    l.snapshotTaken(l.appliedIndex, 0);
    let sent = 0;
    const n = c.node(lag);
    const step = n.step.bind(n);
    n.step = (m) => {
      if (m.type === 'snapshot') sent++; // no payload here: the follower waits for the stream
      step(m);
    };
    c.down.delete(lag);
    c.tickAll(2);
    assert.equal(sent, 1, 'the follower is sent the snapshot');
    // The wrapper streams it for three election timeouts, reporting each part it hands out.
    for (let i = 0; i < 30; i++) {
      l.reportSnapshotSent(lag);
      c.tickAll(1);
    }
    assert.equal(sent, 1, 'not resent while it is still streaming');
    c.tickAll(12);
    assert.equal(sent, 2, 'resent an election timeout after the stream ended');
  });
});

describe('raft: removed members', () => {
  it('a forced sole voter refuses its former members: they learn they were removed and cannot depose it', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const first = c.elect();
    first.propose(text('x'));
    c.stabilize();
    c.tickAll(2);
    const keep = c.node('a');
    const former = ['b', 'c'];
    const notices: string[] = [];
    for (const id of former) {
      const n = c.node(id);
      const step = n.step.bind(n);
      n.step = (m) => {
        if (m.type === 'removed') notices.push(`${m.from}->${id}`);
        step(m);
      };
    }
    // a recovers alone (force-new-cluster) while b and c carry on as the old group.
    c.isolate('a');
    keep.forceSoleVoter();
    keep.step({ type: 'timeoutNow', from: 'a', to: 'a', term: keep.term });
    c.stabilize();
    assert.equal(keep.role, 'leader');
    const forcedTerm = keep.term;
    c.tickAll(40);
    const old =
      c.leader() === keep ? [...c.nodes.values()].find((n) => n.id !== 'a' && n.role === 'leader') : c.leader();
    assert.ok(old && old.id !== 'a', 'the former members elect a leader among themselves');
    // Give the old group a higher term than the forced member's.
    old.transferLeadership(former.find((id) => id !== old.id)!);
    c.tickAll(20);
    assert.ok(Math.max(c.node('b').term, c.node('c').term) > forcedTerm);
    c.heal();
    c.tickAll(20);
    assert.equal(keep.role, 'leader', 'messages of a higher term from removed members do not depose it');
    assert.equal(keep.term, forcedTerm);
    assert.ok(notices.length > 0, 'the former members are told they were removed');
    keep.propose(text('after'));
    c.stabilize();
    assert.deepEqual(data(c, 'a'), ['x', 'after']);
  });

  it('a removed member is refused until it is added again, and the refusal survives a snapshot', () => {
    const c = new MemCluster(['a', 'b', 'c']);
    const l = c.elect();
    const victim = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    l.proposeConfChange({ kind: 'remove', member: victim });
    c.stabilize();
    c.tickAll(2);
    assert.ok(l.removed.has(victim));
    l.propose(text('y'));
    c.stabilize();
    const meta = l.snapshotTaken(l.log.lastIndex, 0);
    assert.deepEqual(meta.removed, [victim]);
    const restored = new Raft(
      { id: l.id, voters: [], electionTick: 10, heartbeatTick: 1, random: new SeededRandom(3) },
      { hardState: { term: l.term, vote: '', commit: meta.index }, entries: [], snapshot: meta },
    );
    assert.ok(restored.removed.has(victim));
    l.proposeConfChange({ kind: 'addLearner', member: victim });
    c.stabilize();
    assert.ok(!l.removed.has(victim), 'a member added again is accepted again');
  });
});
