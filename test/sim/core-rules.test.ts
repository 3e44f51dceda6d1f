/**
 * Core rules that need a scripted core rather than a seed: bare Raft members exchanging messages
 * through a loop written here, with the member under test's messages counted or held back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../src/common/random.js';
import { Raft } from '../../src/raft/raft.js';
import type { Message } from '../../src/raft/types.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Three bare cores; `route` decides what happens to each message (deliver it or not). */
class Trio {
  readonly rafts = new Map<string, Raft>();

  constructor(private readonly route: (m: Message) => boolean) {
    const ids = ['a', 'b', 'c'];
    for (const [i, id] of ids.entries())
      this.rafts.set(
        id,
        new Raft({ id, voters: ids, electionTick: 10 + 10 * i, heartbeatTick: 1, random: new SeededRandom(i + 1) }),
      );
  }

  /** Writes, sends and applies until nothing is left to do (every write succeeds at once). */
  stabilize(): void {
    for (let moved = true; moved;) {
      moved = false;
      for (const r of this.rafts.values()) {
        if (!r.hasReady()) continue;
        moved = true;
        const rd = r.ready();
        r.advance(rd.entries.at(-1)?.index ?? 0, rd.entries.at(-1)?.term);
        for (const e of rd.committed) r.appliedTo(e.index);
        for (const m of rd.messages) if (this.route(m)) this.rafts.get(m.to)?.step(m);
      }
    }
  }

  tick(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const r of this.rafts.values()) r.tick();
      this.stabilize();
    }
  }

  leader(): Raft | undefined {
    return [...this.rafts.values()].find((r) => r.role === 'leader');
  }
}

describe('raft core: snapshots to followers', () => {
  it('a snapshot still streaming is not sent again; one whose stream ended unanswered is, after an election timeout', () => {
    let lagDown = false;
    let sent = 0;
    // 'c' lags: while it is down nothing reaches it; then the snapshot it is sent is counted and held
    // back (its parts are still streaming: the follower has nothing to answer yet).
    const trio = new Trio((m) => {
      if (m.to !== 'c') return true;
      if (lagDown) return false;
      if (m.type === 'snapshot') {
        sent++;
        return false;
      }
      return true;
    });
    trio.tick(40);
    const l = trio.leader();
    assert.equal(l?.id, 'a', 'the member with the shortest election timeout leads');
    lagDown = true;
    for (let i = 0; i < 10; i++) l.propose(text(`v${i}`));
    trio.stabilize();
    trio.tick(2);
    l.snapshotTaken(l.appliedIndex, 0);
    assert.ok(l.log.firstIndex > 2, 'the leader compacted its log');
    lagDown = false;
    trio.tick(2);
    assert.equal(sent, 1, 'the follower is sent the snapshot');
    // The wrapper streams it for three election timeouts, reporting each part it hands out.
    for (let i = 0; i < 30; i++) {
      l.reportSnapshotSent('c');
      trio.tick(1);
    }
    assert.equal(sent, 1, 'not resent while it is still streaming');
    trio.tick(12);
    assert.equal(sent, 2, 'resent an election timeout after the stream ended');
  });
});
