import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delaysOut, failuresAfter, parseSamples, watcherScript } from './follow-delays.js';

const dead = { hostname: 'dead', address: '10.0.1.8' };

describe('follow delays', () => {
  it('starts VIP connections on a clock, each in the background, so one that hangs does not stop the sampling', () => {
    const s = watcherScript('tgt', '/tmp/w.log');
    assert.match(s, /while :; do \(t=.*timeout 1 wget -qO- http:\/\/tgt\/.*\) & sleep 0\.05; done/);
  });

  it('reads each connection: when it began, who answered, how long it took', () => {
    const log = 'v|10.00|a|10.02\nv|10.05||11.05\nd|10.10|10.0.1.7,\ngarbage\n';
    assert.deepEqual(parseSamples(log, 0), [
      { kind: 'vip', at: 10_000, answeredBy: 'a', tookMs: 20 },
      { kind: 'vip', at: 10_050, answeredBy: '', tookMs: 1000 },
      { kind: 'dns', at: 10_100, addresses: new Set(['10.0.1.7']) },
    ]);
  });

  it('an out-delay ends at the first sample after which every one is right; a failure after the next task started does not count once it had settled', () => {
    const samples = parseSamples(
      [
        'v|10.00|dead|10.01',
        'v|10.05||11.05', // hung on the dead backend: counted where it began
        'v|10.10|a|10.11',
        'v|10.15||10.16',
        'v|10.20|a|10.21',
        'v|10.25|a|10.26',
        'v|12.00||12.01', // the next task, not listening yet
        'v|12.05|a|12.06',
      ].join('\n'),
      0,
    );
    assert.equal(delaysOut(samples, dead, 10_000).lbOut, 2050, 'without the next start, every sample counts');
    assert.equal(delaysOut(samples, dead, 10_000, 11_500).lbOut, 200, 'settled at 10.20 before the next start');
    // Not settled before the next start: every later sample counts again.
    assert.equal(delaysOut(samples, dead, 10_000, 10_180).lbOut, 2050);
    assert.deepEqual(failuresAfter(samples, 10_000, 2000), { count: 2, slowestMs: 1000 });
  });
});
