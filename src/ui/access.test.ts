import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { allowed, checkExposure, isLoopback } from './access.js';

const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const TOKEN = 'a-token-of-enough-length';

describe('visualizer access', () => {
  it('listens beyond loopback only with a token', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', '128.0.0.1']) assert.ok(!isLoopback(h), h);
    assert.doesNotThrow(() => checkExposure('127.0.0.1', undefined));
    assert.throws(() => checkExposure('0.0.0.0', undefined), /--ui-token/);
    assert.doesNotThrow(() => checkExposure('0.0.0.0', TOKEN));
    assert.throws(() => checkExposure('0.0.0.0', 'short'), /at least 16/);
  });

  it('lets a request pass with the token in a header, the query or the cookie, and no other', () => {
    const url = (q = ''): URL => new URL(`http://ui/${q}`);
    assert.ok(allowed(undefined, req({}), url()));
    assert.ok(!allowed(TOKEN, req({}), url()));
    assert.ok(allowed(TOKEN, req({ authorization: `Bearer ${TOKEN}` }), url()));
    assert.ok(!allowed(TOKEN, req({ authorization: 'Bearer wrong' }), url()));
    assert.ok(allowed(TOKEN, req({}), url(`?token=${TOKEN}`)));
    assert.ok(!allowed(TOKEN, req({}), url(`?token=${TOKEN}x`)));
    assert.ok(allowed(TOKEN, req({ cookie: `a=b; shoal_ui=${TOKEN}` }), url()));
    assert.ok(!allowed(TOKEN, req({ cookie: 'shoal_ui=nope' }), url()));
  });
});
