import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaftLog } from './log.js';
import type { Entry } from './types.js';

const entry = (index: number, term: number, text: string, type: Entry['type'] = 'normal'): Entry => ({
  term,
  index,
  type,
  data: new TextEncoder().encode(text),
});
const text = (e: Entry | undefined): string => new TextDecoder().decode(e?.data);

describe('raft in-memory log', () => {
  it('gives back what was appended: terms, types, payloads and bounds', () => {
    const log = new RaftLog(10, 2);
    log.append(entry(11, 2, 'a'));
    log.append(entry(12, 3, '', 'noop'));
    log.append(entry(13, 3, 'ccc', 'conf'));
    assert.equal(log.firstIndex, 11);
    assert.equal(log.lastIndex, 13);
    assert.equal(log.lastTerm, 3);
    assert.equal(log.termAt(10), 2, 'the compaction point keeps its term');
    assert.equal(log.termAt(9), undefined);
    assert.equal(log.termAt(14), undefined);
    assert.deepEqual(
      log.slice(0, 99).map((e) => [e.index, e.term, e.type, text(e)]),
      [
        [11, 2, 'normal', 'a'],
        [12, 3, 'noop', ''],
        [13, 3, 'conf', 'ccc'],
      ],
    );
    assert.deepEqual(
      log.slice(11, 13, 2).map((e) => e.index),
      [11, 12],
    );
    assert.deepEqual(log.slice(14, 20), []);
    assert.equal(text(log.entry(13)), 'ccc');
    assert.throws(() => log.append(entry(15, 3, 'gap')), /append of index 15 after 13/);
  });

  it('keeps its own copy of a payload, small or large', () => {
    const log = new RaftLog();
    const small = entry(1, 1, 'small');
    const large: Entry = { term: 1, index: 2, type: 'normal', data: Buffer.alloc(200_000, 7) };
    log.append(small);
    log.append(large);
    (small.data as Uint8Array).fill(0);
    (large.data as Uint8Array).fill(0);
    assert.equal(text(log.entry(1)), 'small');
    assert.ok(log.entry(2)!.data.every((b) => b === 7) && log.entry(2)!.data.length === 200_000);
  });

  it('never overwrites bytes a handed-out entry still shows, even after a truncation', () => {
    const log = new RaftLog();
    for (let i = 1; i <= 5; i++) log.append(entry(i, 1, `old-${i}`));
    const held = log.slice(3, 5);
    log.truncateFrom(3);
    assert.equal(log.lastIndex, 2);
    for (let i = 3; i <= 5; i++) log.append(entry(i, 2, `new-${i}`));
    assert.deepEqual(held.map(text), ['old-3', 'old-4', 'old-5']);
    assert.deepEqual(log.slice(1, 5).map(text), ['old-1', 'old-2', 'new-3', 'new-4', 'new-5']);
    assert.equal(log.termAt(3), 2);
  });

  it('holds many entries across arena buffers and compacts a prefix', () => {
    const log = new RaftLog();
    const payload = (i: number): string => `${i}:`.padEnd(1000 + (i % 7), 'x');
    for (let i = 1; i <= 2000; i++) log.append(entry(i, 1 + Math.floor(i / 500), payload(i)));
    log.compact(1500);
    assert.equal(log.firstIndex, 1501);
    assert.deepEqual(log.compactedTo, { index: 1500, term: 4 });
    assert.equal(log.termAt(1500), 4);
    assert.equal(log.termAt(1499), undefined);
    for (const e of log.slice(1501, 2000)) assert.equal(text(e), payload(e.index));
    assert.throws(() => log.truncateFrom(1500), /compacted prefix/);
    assert.throws(() => log.compact(2001), /beyond the end/);
  });

  it('starts over after a snapshot from the leader', () => {
    const log = new RaftLog();
    for (let i = 1; i <= 3; i++) log.append(entry(i, 1, `e${i}`));
    log.resetTo(50, 4);
    assert.equal(log.lastIndex, 50);
    assert.equal(log.lastTerm, 4);
    assert.deepEqual(log.slice(0, 100), []);
    log.append(entry(51, 4, 'after'));
    assert.equal(text(log.entry(51)), 'after');
    assert.ok(log.isUpToDate(51, 4) && !log.isUpToDate(50, 4) && log.isUpToDate(1, 5));
  });
});
