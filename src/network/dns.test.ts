import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as dnsPacket from 'dns-packet';
import { silentLogger } from '../common/logging.js';
import { DnsTable, LiveDnsRecords, type DnsSnapshot } from './dns-records.js';
import { DnsServer } from './dns-server.js';
import { parseResolvConf, UpstreamForwarder, type Upstream } from './dns-upstream.js';

// Two overlays: front (web, api) and back (api, db); `other` shares nothing with them.
const snapshot: DnsSnapshot = {
  networks: [
    { id: 'front', gateway: '10.0.1.1' },
    { id: 'back', gateway: '10.0.2.1' },
    { id: 'other', gateway: '10.0.3.1' },
  ],
  services: [
    { networkId: 'front', name: 'web', mode: 'vip', vip: '10.0.1.2', aliases: ['www'] },
    { networkId: 'front', name: 'api', mode: 'vip', vip: '10.0.1.5' },
    { networkId: 'back', name: 'api', mode: 'vip', vip: '10.0.2.5' },
    { networkId: 'back', name: 'db', mode: 'dnsrr' },
    { networkId: 'other', name: 'lonely', mode: 'vip', vip: '10.0.3.2' },
  ],
  endpoints: [
    {
      networkId: 'front',
      ip: '10.0.1.3',
      owner: 'c-web1',
      taskName: 'web.1.aaa',
      serviceName: 'web',
      serving: true,
      aliases: ['www'],
    },
    {
      networkId: 'front',
      ip: '10.0.1.4',
      owner: 'c-web2',
      taskName: 'web.2.bbb',
      serviceName: 'web',
      serving: false,
    },
    { networkId: 'front', ip: '10.0.1.6', owner: 'c-api1', taskName: 'api.1.ccc', serviceName: 'api', serving: true },
    { networkId: 'back', ip: '10.0.2.6', owner: 'c-api1', taskName: 'api.1.ccc', serviceName: 'api', serving: true },
    {
      networkId: 'back',
      ip: '10.0.2.7',
      owner: 'c-db1',
      taskName: 'db.1.ddd',
      serviceName: 'db',
      serving: true,
      aliases: ['mysql'],
    },
    { networkId: 'back', ip: '10.0.2.8', owner: 'c-db2', taskName: 'db.2.eee', serviceName: 'db', serving: true },
    {
      networkId: 'other',
      ip: '10.0.3.3',
      owner: 'c-lonely',
      taskName: 'lonely.1.fff',
      serviceName: 'lonely',
      serving: true,
    },
  ],
};

describe('DNS records', () => {
  const t = new DnsTable(snapshot);

  it("finds a client's networks from its address", () => {
    assert.deepEqual(t.clientNetworks('10.0.1.6'), ['front', 'back']);
    assert.deepEqual(t.clientNetworks('10.0.1.3'), ['front']);
    assert.deepEqual(t.clientNetworks('10.0.1.3', '10.0.2.1'), [], 'asked on a gateway of a network it is not on');
    assert.deepEqual(t.clientNetworks('192.168.1.1'), []);
  });

  it('answers VIPs, dnsrr task addresses, tasks.NAME, aliases and task names', () => {
    assert.deepEqual(t.resolve('web', ['front']), { kind: 'answer', ips: ['10.0.1.2'] });
    assert.deepEqual(
      t.resolve('WWW.', ['front']),
      { kind: 'answer', ips: ['10.0.1.2'] },
      'a service alias: the VIP only',
    );
    assert.deepEqual(t.resolve('tasks.www', ['front']), { kind: 'answer', ips: ['10.0.1.3'] });
    assert.deepEqual(t.resolve('tasks.web', ['front']), { kind: 'answer', ips: ['10.0.1.3'] }, 'only serving tasks');
    assert.deepEqual(t.resolve('db', ['back']), { kind: 'answer', ips: ['10.0.2.7', '10.0.2.8'] });
    assert.deepEqual(t.resolve('mysql', ['back']), { kind: 'answer', ips: ['10.0.2.7'] });
    assert.deepEqual(t.resolve('db.2.eee', ['back']), { kind: 'answer', ips: ['10.0.2.8'] });
    assert.deepEqual(
      t.resolve('web.2.bbb', ['front']),
      { kind: 'answer', ips: [] },
      'a stopped task has a name but no address',
    );
  });

  it('answers from the first of the client networks that knows the name', () => {
    assert.deepEqual(t.resolve('api', ['back', 'front']), { kind: 'answer', ips: ['10.0.2.5'] });
    assert.deepEqual(t.resolve('api', ['front', 'back']), { kind: 'answer', ips: ['10.0.1.5'] });
  });

  it('hides names of networks the client does not share, forwards the rest', () => {
    assert.deepEqual(t.resolve('db', ['front']), { kind: 'nxdomain' });
    assert.deepEqual(t.resolve('lonely', ['front', 'back']), { kind: 'nxdomain' });
    assert.deepEqual(t.resolve('tasks.db', []), { kind: 'nxdomain' });
    assert.deepEqual(t.resolve('example.com', ['front']), { kind: 'forward' });
  });

  it('follows updates at once', () => {
    const live = new LiveDnsRecords();
    assert.deepEqual(live.resolve('web', ['front']), { kind: 'forward' });
    live.update(snapshot);
    assert.deepEqual(live.resolve('web', ['front']), { kind: 'answer', ips: ['10.0.1.2'] });
  });

  it('reads nameservers from resolv.conf', () => {
    assert.deepEqual(
      parseResolvConf('# x\nnameserver 10.255.255.53\nsearch lan\nnameserver ::1\nnameserver 1.1.1.1\n'),
      ['10.255.255.53', '1.1.1.1'],
    );
  });
});

function query(name: string, type: dnsPacket.RecordType = 'A', id = 7): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
  });
}

function askUdp(port: number, q: Buffer, from = '127.0.0.1'): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no answer'));
    }, 3000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(dnsPacket.decode(m));
    });
    s.bind(0, from, () => s.send(q, port, '127.0.0.1'));
  });
}

function askTcp(port: number, q: Buffer): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    s.on('error', reject);
    s.on('connect', () => s.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q])));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        s.destroy();
        resolve(dnsPacket.decode(buf.subarray(2)));
      }
    });
  });
}

const rcode = (p: dnsPacket.DecodedPacket): number => (p.flags ?? 0) & 15;
const aRecords = (p: dnsPacket.DecodedPacket): dnsPacket.StringAnswer[] =>
  (p.answers ?? []).filter((a): a is dnsPacket.StringAnswer => a.type === 'A');
const addresses = (p: dnsPacket.DecodedPacket): string[] => aRecords(p).map((a) => a.data);

describe('DNS server', () => {
  // The client is 127.0.0.1: give it an endpoint on `front` so the loopback test can ask as it.
  const records = new LiveDnsRecords();
  records.update({
    ...snapshot,
    endpoints: [...snapshot.endpoints, { networkId: 'front', ip: '127.0.0.1', owner: 'c-web1', serving: false }],
  });
  // The upstream is another shoal DNS server that knows `example.test`.
  const upstreamRecords = new LiveDnsRecords();
  upstreamRecords.update({
    networks: [],
    services: [{ networkId: 'n', name: 'example.test', mode: 'vip', vip: '192.0.2.10' }],
    endpoints: [{ networkId: 'n', ip: '127.0.0.1', owner: 'x', serving: false }],
  });
  const nothing: Upstream = { forward: () => Promise.resolve(undefined) };
  const upstreamServer = new DnsServer(upstreamRecords, nothing, silentLogger);
  let server: DnsServer;
  let port = 0;
  let silent: dgram.Socket;
  let deadPort = 0;

  before(async () => {
    const up = await upstreamServer.listen('127.0.0.1', 0);
    server = new DnsServer(
      records,
      new UpstreamForwarder([{ address: '127.0.0.1', port: up.port }], 500),
      silentLogger,
    );
    port = (await server.listen('127.0.0.1', 0)).port;
    silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    deadPort = silent.address().port;
  });

  after(async () => {
    await server.closeAll();
    await upstreamServer.closeAll();
    silent.close();
  });

  it('answers cluster names over UDP and TCP', async () => {
    const a = await askUdp(port, query('web'));
    assert.equal(a.id, 7);
    assert.equal(rcode(a), 0);
    assert.deepEqual(addresses(a), ['10.0.1.2']);
    assert.equal(aRecords(a)[0]?.ttl, 0);
    const b = await askTcp(port, query('tasks.web'));
    assert.deepEqual(addresses(b), ['10.0.1.3']);
  });

  it('says NXDOMAIN for a name on a network the client does not share, no data for AAAA', async () => {
    assert.equal(rcode(await askUdp(port, query('db'))), 3);
    const aaaa = await askUdp(port, query('web', 'AAAA'));
    assert.equal(rcode(aaaa), 0);
    assert.deepEqual(aaaa.answers, []);
  });

  it('forwards other names upstream, and fails (SERVFAIL) in bounded time when upstream is silent', async () => {
    const fwd = await askUdp(port, query('example.test'));
    assert.deepEqual(addresses(fwd), ['192.0.2.10']);
    const viaTcp = await askTcp(port, query('example.test'));
    assert.deepEqual(addresses(viaTcp), ['192.0.2.10']);

    const deaf = new DnsServer(
      records,
      new UpstreamForwarder([{ address: '127.0.0.1', port: deadPort }], 200),
      silentLogger,
    );
    const p = (await deaf.listen('127.0.0.1', 0)).port;
    try {
      const t0 = Date.now();
      const r = await askUdp(p, query('example.test'));
      assert.equal(rcode(r), 2);
      assert.ok(Date.now() - t0 < 1500);
    } finally {
      await deaf.closeAll();
    }
  });

  it('rotates multi-address answers and ignores garbage', async () => {
    const clientOnBack = new DnsServer(
      { clientNetworks: () => ['back'], resolve: (n, nets) => records.resolve(n, nets) },
      nothing,
      silentLogger,
    );
    const first = await clientOnBack.handle(query('db'), '10.0.2.6', undefined, false);
    const second = await clientOnBack.handle(query('db'), '10.0.2.6', undefined, false);
    assert.deepEqual(addresses(dnsPacket.decode(first!)), ['10.0.2.7', '10.0.2.8']);
    assert.deepEqual(addresses(dnsPacket.decode(second!)), ['10.0.2.8', '10.0.2.7']);
    assert.equal(await clientOnBack.handle(Buffer.from([1, 2, 3]), '10.0.2.6', undefined, false), undefined);
  });
});
