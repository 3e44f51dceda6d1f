import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frame, scan } from './record.js';

const recs = (...s: string[]): Buffer => Buffer.concat(s.map((x) => frame(Buffer.from(x))));

describe('record framing', () => {
  it('reads intact records', () => {
    const r = scan(recs('a', 'bb', 'ccc'));
    assert.ok(r.ok && !r.tornTail);
    assert.deepEqual(r.records.map(String), ['a', 'bb', 'ccc']);
  });

  it('a record cut short at the end is a torn tail', () => {
    const whole = recs('a', 'bb', 'a longer last record');
    const r = scan(whole.subarray(0, whole.length - 5));
    assert.ok(r.ok && r.tornTail);
    assert.deepEqual(r.records.map(String), ['a', 'bb']);
  });

  it('a zero-filled tail is torn, not an empty record', () => {
    const r = scan(Buffer.concat([recs('a', 'bb'), Buffer.alloc(4096)]));
    assert.ok(r.ok && r.tornTail, JSON.stringify(r));
    assert.deepEqual(r.records.map(String), ['a', 'bb']);
  });

  it('a bad length in the middle is corruption at its offset, not a torn tail', () => {
    const buf = recs('first', 'second', 'third', 'fourth');
    const at = frame(Buffer.from('first')).length;
    buf.writeUInt32BE(0x7fffffff, at); // the length of 'second' now runs past the end
    const r = scan(buf);
    assert.ok(!r.ok, JSON.stringify(r));
    assert.equal(r.offset, at);
    assert.deepEqual(r.records.map(String), ['first']);
  });

  it('a flipped bit in a record followed by others is corruption', () => {
    const buf = recs('first', 'second', 'third');
    buf[frame(Buffer.from('first')).length + 9]! ^= 0x01;
    const r = scan(buf);
    assert.ok(!r.ok);
  });
});
