import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { egressRuleset } from './egress-rules.js';
import { hostPortRuleset } from './host-port-rules.js';
import { meshRuleset } from './mesh-rules.js';
import { replaceScript } from './nft-ruleset.js';
import { vipRuleset } from './vip-rules.js';

describe('VIP rules', () => {
  it('DNATs each VIP round-robin over its sorted backends, refuses VIPs without backends', () => {
    const rs = vipRuleset([
      { vip: '10.0.1.2', backends: ['10.0.1.10', '10.0.1.9', '10.0.1.10'] },
      { vip: '10.0.2.2', backends: ['10.0.2.5'] },
      { vip: '10.0.1.3', backends: [] },
    ]);
    assert.equal(rs.table, 'shoal-vip');
    assert.match(rs.body, /ip daddr 10\.0\.1\.2 dnat to numgen inc mod 2 map \{ 0 : 10\.0\.1\.9, 1 : 10\.0\.1\.10 \}/);
    assert.match(rs.body, /ip daddr 10\.0\.2\.2 dnat to 10\.0\.2\.5\n/);
    assert.match(rs.body, /ip daddr 10\.0\.1\.3 meta l4proto tcp reject with tcp reset/);
    assert.ok(rs.body.indexOf('10.0.1.2 dnat') < rs.body.indexOf('10.0.2.2 dnat'), 'VIPs sorted numerically');
  });

  it('renders the same text for the same input (no spurious replacements)', () => {
    const a = vipRuleset([{ vip: '10.0.1.2', backends: ['10.0.1.4', '10.0.1.3'] }]);
    const b = vipRuleset([{ vip: '10.0.1.2', backends: ['10.0.1.3', '10.0.1.4'] }]);
    assert.equal(replaceScript(a), replaceScript(b));
  });

  it('rejects anything that is not an address (nothing reaches nft unchecked)', () => {
    assert.throws(() => vipRuleset([{ vip: '10.0.1.2; flush ruleset', backends: [] }]), /not a valid IP address/);
  });

  it('replaces the table in one transaction', () => {
    const script = replaceScript(vipRuleset([]));
    assert.match(script, /^table ip shoal-vip\ndelete table ip shoal-vip\ntable ip shoal-vip \{\n/);
  });
});

describe('mesh rules', () => {
  it('DNATs local-destination published ports in prerouting and output, SNATs to the node address', () => {
    const rs = meshRuleset({
      ingressLink: 'shl-ingress0',
      nodeIngressIp: '10.0.0.3',
      ports: [
        { protocol: 'udp', publishedPort: 5353, targetPort: 53, backends: ['10.0.0.7'] },
        { protocol: 'tcp', publishedPort: 8080, targetPort: 80, backends: ['10.0.0.8', '10.0.0.7'] },
        { protocol: 'tcp', publishedPort: 9000, targetPort: 90, backends: [] },
      ],
    });
    const dnat = 'fib daddr type local tcp dport 8080 dnat to numgen inc mod 2 map { 0 : 10.0.0.7, 1 : 10.0.0.8 } : 80';
    assert.equal(rs.body.split(dnat).length, 3, 'in prerouting and output');
    // route_localnet on the link must not open the host's loopback services to its containers.
    assert.match(rs.body, /hook prerouting priority raw.*\n.*iifname "shl-ingress0" ip daddr 127\.0\.0\.0\/8 drop/);
    assert.match(rs.body, /udp dport 5353 dnat to 10\.0\.0\.7 : 53/);
    assert.doesNotMatch(rs.body, /9000/);
    assert.match(rs.body, /oifname "shl-ingress0" ct status dnat ip saddr 127\.0\.0\.0\/8 snat to 10\.0\.0\.3/);
    assert.match(rs.body, /oifname "shl-ingress0" ct status dnat snat to 10\.0\.0\.3/);
  });

  it('keeps the client source for local tasks when asked', () => {
    const rs = meshRuleset({
      ingressLink: 'shl-x',
      nodeIngressIp: '10.0.0.3',
      ports: [],
      keepSourceForLocal: ['10.0.0.9'],
    });
    assert.match(rs.body, /ct status dnat ip daddr \{ 10\.0\.0\.9 \} accept\n.*snat to 10\.0\.0\.3/);
  });
});

describe('egress rules', () => {
  it('masquerades routed traffic of normal overlays, keeps internal ones in, isolates overlays from each other and from Docker bridges', () => {
    const rs = egressRuleset([
      { link: 'shl-aaa', subnet: '10.0.1.0/24', internal: false, gateway: '10.0.1.1' },
      { link: 'shl-bbb', subnet: '10.0.2.0/24', internal: true, gateway: '10.0.2.1' },
    ]);
    assert.match(rs.body, /ip saddr 10\.0\.1\.0\/24 ip daddr != 10\.0\.1\.0\/24 oifname != "shl-aaa" masquerade/);
    assert.doesNotMatch(rs.body, /10\.0\.2\.0\/24/);
    assert.match(rs.body, /iifname "shl-aaa" oifname "shl-\*" oifname != "shl-aaa" ct status & dnat == 0 drop/);
    assert.match(rs.body, /iifname "shl-aaa" oifname "docker\*" ct status & dnat == 0 drop/);
    assert.match(rs.body, /iifname "shl-aaa" oifname "br-\*" ct status & dnat == 0 drop/);
    // Nothing is routed into an overlay but replies and the mesh's DNATed flows.
    assert.match(rs.body, /oifname "shl-aaa" iifname != "shl-aaa" ct state new ct status & dnat == 0 drop/);
    assert.match(rs.body, /iifname "shl-bbb" oifname != "shl-bbb" drop/);
    // The host itself is out of reach of an internal overlay, but for the embedded DNS on its gateway.
    assert.match(
      rs.body,
      /chain input \{\n.*hook input.*\n.*iifname "shl-bbb" ip daddr 10\.0\.2\.1 meta l4proto \{ tcp, udp \} th dport 53 accept\n.*iifname "shl-bbb" drop\n/,
    );
    assert.doesNotMatch(rs.body, /iifname "shl-aaa" drop/);
    const open = egressRuleset([{ link: 'shl-aaa', subnet: '10.0.1.0/24', internal: false, gateway: '10.0.1.1' }]);
    assert.doesNotMatch(open.body, /chain input/, 'no input hook without an internal network');
    assert.throws(() => egressRuleset([{ link: 'shl-c', subnet: '10.0.3.0/24', internal: true, gateway: 'x; flush' }]));
  });
});

describe('host-mode port rules', () => {
  it("DNATs the host's addresses to the local task, from outside and from the host itself but not on 127.0.0.1", () => {
    const rs = hostPortRuleset([
      { protocol: 'udp', publishedPort: 53, targetPort: 5353, taskIp: '10.0.1.7' },
      { protocol: 'tcp', publishedPort: 8081, targetPort: 80, taskIp: '10.0.1.5' },
    ]);
    assert.equal(rs.table, 'shoal-hostports');
    assert.match(
      rs.body,
      /hook prerouting.*\n.*fib daddr type local tcp dport 8081 dnat to 10\.0\.1\.5 : 80\n.*fib daddr type local udp dport 53 dnat to 10\.0\.1\.7 : 5353/,
    );
    assert.match(
      rs.body,
      /hook output.*\n.*ip daddr != 127\.0\.0\.0\/8 fib daddr type local tcp dport 8081 dnat to 10\.0\.1\.5 : 80/,
    );
    assert.throws(() =>
      hostPortRuleset([{ protocol: 'tcp', publishedPort: 80, targetPort: 80, taskIp: '1.2.3.4; flush' }]),
    );
    assert.throws(() => hostPortRuleset([{ protocol: 'tcp', publishedPort: 0, targetPort: 80, taskIp: '10.0.1.5' }]));
  });
});
