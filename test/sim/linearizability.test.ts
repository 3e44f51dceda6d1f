import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHistory, type Op } from './linearizability.js';

const put = (value: string, call: number, ret: number): Op => ({ key: 'k', kind: 'put', value, call, ret });
const get = (value: string, call: number, ret: number): Op => ({ key: 'k', kind: 'get', value, call, ret });

describe('linearizability checker', () => {
  it('accepts a sequential history', () => {
    assert.deepEqual(checkHistory([put('1', 0, 1), get('1', 2, 3), put('2', 4, 5), get('2', 6, 7)]), { ok: true });
  });

  it('accepts concurrent operations that can be ordered', () => {
    assert.deepEqual(checkHistory([put('1', 0, 10), get('1', 1, 2), get('', 0, 1)]), { ok: true });
  });

  it('rejects a stale read after a completed write', () => {
    assert.equal(checkHistory([put('1', 0, 1), put('2', 2, 3), get('1', 4, 5)]).ok, false);
  });

  it('rejects reads that see values in two different orders', () => {
    assert.equal(
      checkHistory([put('1', 0, 10), put('2', 0, 10), get('1', 11, 12), get('2', 13, 14), get('1', 15, 16)]).ok,
      false,
    );
  });

  it('lets an operation with unknown outcome happen or not', () => {
    assert.deepEqual(checkHistory([put('1', 0, Infinity), get('', 1, 2)]), { ok: true });
    assert.deepEqual(checkHistory([put('1', 0, Infinity), get('1', 1, 2)]), { ok: true });
    assert.equal(checkHistory([put('1', 0, Infinity), get('1', 1, 2), get('', 3, 4)]).ok, false);
  });
});
