/**
 * Scripted Raft situations too rare for random seeds to reach often (etcd's paper-scenario tests):
 * each returns what went wrong, or undefined. Run plain (they must pass) and with planted bugs.
 */
import { SeededRandom } from '../../src/common/random.js';
import { Raft } from '../../src/raft/raft.js';
import type { Entry } from '../../src/raft/types.js';

const e = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(`${index}/${term}`),
});

/**
 * Raft §5.3 (AppendEntries step 5): a follower holding a stale suffix from an old leader gets an
 * append whose entries match only its beginning; it may commit up to the last new entry, not into
 * the stale suffix (fast back-off makes this rare: it takes reordered or duplicated appends).
 */
export function staleSuffixCommit(): string | undefined {
  const old = [1, 2, 3, 4, 5].map((i) => e(i, 1)).concat([6, 7, 8].map((i) => e(i, 2)));
  const f = new Raft(
    { id: 'f', voters: ['l', 'f', 'x'], electionTick: 10, heartbeatTick: 1, random: new SeededRandom(1) },
    { hardState: { term: 2, vote: '', commit: 5 }, entries: old },
  );
  // The leader of term 3 holds 6 (term 2) and then its own 7 (term 3), committed.
  f.step({ type: 'append', from: 'l', to: 'f', term: 3, prevIndex: 5, prevTerm: 1, entries: [e(6, 2)], commit: 7 });
  return f.commit <= 6
    ? undefined
    : `a follower committed ${f.commit}, into its stale suffix past the last new entry 6`;
}

export const SCENARIOS: Readonly<Record<string, () => string | undefined>> = { staleSuffixCommit };
