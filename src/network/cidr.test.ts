import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contains, formatCidr, formatIpv4, isMasked, masked, overlaps, parseCidr, parseIpv4 } from './cidr.js';
import { hostLinkMacFor, macForIp } from './mac.js';

describe('cidr', () => {
  it('parses dotted quads strictly', () => {
    assert.equal(parseIpv4('10.0.1.2'), 0x0a000102);
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
    for (const bad of ['10.0.1', '10.0.1.256', '010.0.0.1', '1.2.3.4.5', '', 'a.b.c.d', '1.2.3.-4'])
      assert.equal(parseIpv4(bad), undefined, bad);
  });

  it('round-trips any address', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4(formatIpv4(n)) === n));
  });

  it('parses prefixes and keeps host bits for the error message', () => {
    const p = parseCidr('10.0.1.7/24')!;
    assert.equal(isMasked(p), false);
    assert.equal(formatCidr(masked(p)), '10.0.1.0/24');
    assert.equal(parseCidr('10.0.0.0/33'), undefined);
    assert.equal(parseCidr('10.0.0.0'), undefined);
    assert.equal(parseCidr('10.0.0.0/024'), undefined);
  });

  it('detects containment and overlap', () => {
    const a = parseCidr('10.0.0.0/16')!;
    const b = parseCidr('10.0.5.0/24')!;
    const c = parseCidr('10.1.0.0/24')!;
    assert.ok(overlaps(a, b) && overlaps(b, a));
    assert.ok(!overlaps(a, c));
    assert.ok(contains(b, parseIpv4('10.0.5.255')!));
    assert.ok(!contains(b, parseIpv4('10.0.6.0')!));
  });

  it('derives the MAC Docker gives an address', () => {
    assert.equal(macForIp('10.0.1.5'), '02:42:0a:00:01:05');
    assert.throws(() => macForIp('10.0.1'), /not a valid IP address/);
  });

  it("gives an overlay's host links one fixed, locally administered MAC that no container has", () => {
    const m = hostLinkMacFor('abc123');
    assert.match(m, /^02:53(:[0-9a-f]{2}){4}$/);
    assert.equal(hostLinkMacFor('abc123'), m, 'the same on every host');
    assert.notEqual(hostLinkMacFor('abc124'), m);
  });
});
