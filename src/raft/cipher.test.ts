import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { AesGcmCipher } from './cipher.js';

describe('raft data cipher', () => {
  it('seals every record under its own nonce, across nonce batches, and opens it only as its kind', () => {
    const c = new AesGcmCipher(randomBytes(32));
    const nonces = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const plain = Buffer.from(`record ${i}`);
      const sealed = c.seal('wal', plain);
      nonces.add(sealed.subarray(0, 12).toString('hex'));
      assert.deepEqual(c.open('wal', sealed), plain);
      if (i % 100 === 0) assert.throws(() => c.open('snapshot', sealed));
    }
    assert.equal(nonces.size, 1000);
  });

  it('refuses a record with a flipped bit', () => {
    const c = new AesGcmCipher(randomBytes(32));
    const sealed = c.seal('snapshot', Buffer.from('state'));
    sealed[14]! ^= 1;
    assert.throws(() => c.open('snapshot', sealed));
  });
});
