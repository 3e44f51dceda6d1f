import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dataPathPort } from './data-path-port.js';
import { goneRuleset } from './gone-rules.js';

describe('dataPathPort', () => {
  it("is Docker's 4789 when absent or 0, and any port of the registered range otherwise", () => {
    assert.equal(dataPathPort(undefined), 4789);
    assert.equal(dataPathPort(0), 4789);
    assert.equal(dataPathPort(1024), 1024);
    assert.equal(dataPathPort(5789), 5789);
    assert.equal(dataPathPort(49151), 49151);
  });

  it("refuses a port outside 1024-49151 with Docker's message", () => {
    for (const p of [1, 1023, 49152, 65535, 4789.5])
      assert.throws(
        () => dataPathPort(p),
        (e: Error & { code?: string }) =>
          e.message === `Datapath port number is not in valid range (1024-49151) : ${p}` &&
          e.code === 'invalid_argument',
      );
  });
});

describe('goneRuleset', () => {
  it("refuses new flows to each network's dead addresses on its VXLAN device, TCP with a reset", () => {
    const rs = goneRuleset([
      { networkId: 'bbb', ips: ['10.0.2.9'] },
      { networkId: 'aaa', ips: ['10.0.1.12', '10.0.1.3', '10.0.1.3'] },
    ]);
    assert.equal(rs.family, 'netdev');
    assert.equal(rs.table, 'shoal-gone');
    assert.equal(
      rs.body,
      '  chain shv-aaa {\n' +
        '    type filter hook ingress device "shv-aaa" priority -200; policy accept;\n' +
        '    ip daddr { 10.0.1.3, 10.0.1.12 } meta l4proto tcp reject with tcp reset\n' +
        '    ip daddr { 10.0.1.3, 10.0.1.12 } reject with icmp type host-unreachable\n' +
        '  }\n' +
        '  chain shv-bbb {\n' +
        '    type filter hook ingress device "shv-bbb" priority -200; policy accept;\n' +
        '    ip daddr { 10.0.2.9 } meta l4proto tcp reject with tcp reset\n' +
        '    ip daddr { 10.0.2.9 } reject with icmp type host-unreachable\n' +
        '  }\n',
    );
    assert.equal(goneRuleset([]).body, '');
    assert.throws(() => goneRuleset([{ networkId: 'aaa', ips: ['10.0.1.3; flush ruleset'] }]), /not a valid IP/);
  });
});
