import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, it } from 'node:test';
import { interfaceAddress } from './addresses.js';

describe('advertise address from an interface name', () => {
  const v4 = (address: string): NetworkInterfaceInfo => ({
    address,
    family: 'IPv4',
    netmask: '255.255.255.0',
    mac: '00:00:00:00:00:00',
    internal: false,
    cidr: `${address}/24`,
  });
  const v6 = (address: string): NetworkInterfaceInfo => ({
    address,
    family: 'IPv6',
    netmask: 'ffff:ffff:ffff:ffff::',
    mac: '00:00:00:00:00:00',
    internal: false,
    cidr: `${address}/64`,
    scopeid: 0,
  });
  it('takes the one IPv4 address, else the one global IPv6 address', () => {
    assert.equal(interfaceAddress('eth0', [v4('10.0.0.5'), v6('fe80::1'), v6('2001:db8::5')]), '10.0.0.5');
    assert.equal(interfaceAddress('eth0', [v6('fe80::1'), v6('2001:db8::5')]), '2001:db8::5');
  });
  it("refuses an interface with more than one, in Docker's words", () => {
    assert.throws(() => interfaceAddress('eth0', [v4('10.0.0.5'), v4('10.0.0.6')]), {
      message: 'interface eth0 has more than one IPv4 address (10.0.0.5 and 10.0.0.6)',
    });
    assert.throws(() => interfaceAddress('eth0', [v6('2001:db8::5'), v6('2001:db8::6')]), {
      message: 'interface eth0 has more than one IPv6 address (2001:db8::5 and 2001:db8::6)',
    });
  });
});
