import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { allocateSubnet, parseAddressPool } from './address-pool.js';
import { allocateAddress, isAssignable, withPrefixLength } from './addresses.js';
import { overlaps, parseCidr } from './cidr.js';
import { planNetworkIpam, validateIpamConfig, type NetworkIpam } from './network-ipam.js';
import { allocateVni, parseVniOption, VNI_FIRST } from './vni.js';

const defaults = parseAddressPool(undefined, undefined);

describe('default address pool', () => {
  it('defaults to 10.0.0.0/8 in /24s; ingress (allocated first) takes 10.0.0.0/24', () => {
    assert.equal(defaults.subnetSize, 24);
    assert.equal(allocateSubnet(defaults, []), '10.0.0.0/24');
    assert.equal(allocateSubnet(defaults, ['10.0.0.0/24']), '10.0.1.0/24');
    assert.equal(allocateSubnet(defaults, ['10.0.0.0/24', '10.0.2.0/24']), '10.0.1.0/24');
  });

  it('jumps over user subnets of any size', () => {
    assert.equal(allocateSubnet(defaults, ['10.0.0.0/16']), '10.1.0.0/24');
    assert.equal(allocateSubnet(defaults, ['10.0.0.0/24', '10.0.1.128/25']), '10.0.2.0/24');
    assert.equal(allocateSubnet(defaults, ['192.168.0.0/16', '10.0.0.0/24']), '10.0.1.0/24');
  });

  it('walks several pools in order and says when they are used up', () => {
    const pool = parseAddressPool(['20.20.0.0/23', '30.30.0.0/24'], 24);
    assert.equal(allocateSubnet(pool, ['20.20.0.0/24', '20.20.1.0/24']), '30.30.0.0/24');
    assert.throws(
      () => allocateSubnet(pool, ['20.20.0.0/23', '30.30.0.0/24']),
      /all predefined address pools have been fully subnetted/,
    );
  });

  it('validates swarm init input with the daemon messages', () => {
    assert.throws(() => parseAddressPool(['10.0.0.0/8'], 30), /subnet size is out of range: 30/);
    assert.throws(
      () => parseAddressPool(['10.0.0.0/16'], 8),
      /invalid CIDR: "10.0.0.0\/16". Subnet size is too small for pool: 8/,
    );
    assert.throws(() => parseAddressPool(['10.0.0/16'], 24), /invalid base pool 10.0.0\/16/);
    assert.deepEqual(parseAddressPool([' 10.10.0.0/16 '], 26).subnetSize, 26);
  });

  it('never hands out an overlapping subnet (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 16, max: 28 })), { maxLength: 20 }),
        (raw) => {
          const taken = raw.map(([b, bits]) => `10.${b}.0.0/${bits}`);
          const got = parseCidr(allocateSubnet(defaults, taken))!;
          return taken.every((t) => !overlaps(parseCidr(t)!, got));
        },
      ),
    );
  });
});

describe('network IPAM plan', () => {
  it('takes the user subnet, gateway and range', () => {
    assert.deepEqual(
      planNetworkIpam(
        [{ Subnet: '192.168.7.0/24', Gateway: '192.168.7.254', IPRange: '192.168.7.128/25' }],
        defaults,
        [],
      ),
      {
        subnet: '192.168.7.0/24',
        gateway: '192.168.7.254',
        ipRange: '192.168.7.128/25',
      },
    );
    assert.deepEqual(planNetworkIpam([], defaults, ['10.0.0.0/24']), { subnet: '10.0.1.0/24', gateway: '10.0.1.1' });
  });

  it('refuses a subnet that overlaps another network with libnetwork message', () => {
    assert.throws(
      () => planNetworkIpam([{ Subnet: '10.0.0.0/16' }], defaults, ['10.0.0.0/24']),
      /Pool overlaps with other one on this address space/,
    );
  });

  it("reports every problem like Docker's ValidateIPAM", () => {
    assert.throws(
      () => validateIpamConfig([{ Subnet: '10.1.2.3/16', Gateway: '10.2.0.1', IPRange: '10.3.0.0/8' }]),
      (e: Error) =>
        e.message ===
        'invalid network config:\n' +
          '* invalid subnet 10.1.2.3/16: it should be 10.1.0.0/16\n' +
          '* invalid ip-range 10.3.0.0/8: CIDR block is bigger than its parent subnet 10.1.2.3/16\n' +
          '* invalid ip-range 10.3.0.0/8: it should be 10.0.0.0/8\n' +
          "* invalid gateway 10.2.0.1: parent subnet 10.1.2.3/16 doesn't contain this address",
    );
    assert.throws(() => validateIpamConfig([{ Subnet: 'nope' }]), /invalid subnet nope: invalid CIDR block notation/);
  });
});

describe('addresses', () => {
  const net: NetworkIpam = { subnet: '10.0.1.0/24', gateway: '10.0.1.1' };

  it('skips network, gateway and broadcast, serially after the highest taken', () => {
    assert.equal(allocateAddress(net, []), '10.0.1.2');
    assert.equal(allocateAddress(net, ['10.0.1.2/24', '10.0.1.3/24']), '10.0.1.4');
    // .3 was released but .4 is the next in line: no immediate reuse.
    assert.equal(allocateAddress(net, ['10.0.1.2', '10.0.1.4']), '10.0.1.5');
    assert.equal(allocateAddress(net, ['10.0.1.2', '10.0.1.4'], { serial: false }), '10.0.1.3');
    assert.equal(allocateAddress(net, ['10.0.1.254']), '10.0.1.2', 'wraps around');
    assert.ok(!isAssignable(net, '10.0.1.255') && !isAssignable(net, '10.0.1.1') && isAssignable(net, '10.0.1.9'));
  });

  it('honours a preferred address and the ip-range', () => {
    assert.equal(allocateAddress(net, [], { preferred: '10.0.1.77' }), '10.0.1.77');
    assert.throws(() => allocateAddress(net, ['10.0.1.77/24'], { preferred: '10.0.1.77' }), /Address already in use/);
    assert.throws(() => allocateAddress(net, [], { preferred: '10.0.2.1' }), /requested address is out of range/);
    const ranged: NetworkIpam = { subnet: '10.0.1.0/24', gateway: '10.0.1.1', ipRange: '10.0.1.128/30' };
    assert.equal(allocateAddress(ranged, []), '10.0.1.128');
    assert.throws(
      () => allocateAddress(ranged, ['10.0.1.128', '10.0.1.129', '10.0.1.130', '10.0.1.131']),
      /no available addresses on this pool/,
    );
  });

  it('formats addresses with the subnet length', () => {
    assert.equal(withPrefixLength(net, '10.0.1.9'), '10.0.1.9/24');
  });

  it('never hands out a taken or reserved address (property)', () => {
    const small: NetworkIpam = { subnet: '10.9.0.0/28', gateway: '10.9.0.1' };
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 2, max: 14 }), { maxLength: 12 }), (hosts) => {
        const taken = hosts.map((h) => `10.9.0.${h}`);
        const got = allocateAddress(small, taken);
        return !taken.includes(got) && isAssignable(small, got);
      }),
    );
  });
});

describe('vni', () => {
  it('allocates from 4096 up and checks a requested id', () => {
    assert.equal(allocateVni([]), VNI_FIRST);
    assert.equal(allocateVni([4096, 4098]), 4097);
    assert.equal(allocateVni([4096], 5000), 5000);
    assert.throws(() => allocateVni([5000], 5000), /vxlan id 5000 is already in use/);
    assert.equal(parseVniOption('4097,4098'), 4097);
  });
});
