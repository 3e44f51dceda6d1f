import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { frame } from '../common/record.js';
import { silentLogger } from '../common/logging.js';
import { TcpTransport } from './transport-tcp.js';
import type { Message } from './types.js';
import { decodeMessage, encodeMessage } from './wire.js';

const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
const base = { from: 'm1', to: 'm2', term: 3 };

describe('raft wire format', () => {
  it('round-trips every kind of message, entry and snapshot bytes included', () => {
    const msgs: Message[] = [
      { ...base, type: 'vote', lastIndex: 9, lastTerm: 2, transfer: true },
      { ...base, type: 'preVoteResp', reject: false },
      {
        ...base,
        type: 'append',
        prevIndex: 4,
        prevTerm: 2,
        commit: 4,
        entries: [
          { term: 3, index: 5, type: 'normal', data: new Uint8Array([0, 1, 255]) },
          { term: 3, index: 6, type: 'conf', data: new TextEncoder().encode('{"kind":"add","member":"m4"}') },
        ],
      },
      { ...base, type: 'appendResp', reject: true, index: 6, hintIndex: 4, hintTerm: 2 },
      { ...base, type: 'heartbeat', commit: 6, ctx: 12 },
      { ...base, type: 'heartbeatResp', ctx: 12 },
      { ...base, type: 'timeoutNow' },
      { ...base, type: 'removed' },
      {
        ...base,
        type: 'snapshot',
        snapshot: { index: 10, term: 3, voters: ['m1', 'm2'], learners: [], removed: ['m0'] },
        data: new Uint8Array([7, 8, 9]),
        part: 0,
        last: true,
      },
      { ...base, type: 'snapshot', snapshot: { index: 10, term: 3, voters: ['m1'], learners: ['m2'] } },
    ];
    for (const m of msgs) assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  });

  it('refuses malformed messages with what is wrong, before the core sees them', () => {
    const bad: [unknown, RegExp][] = [
      [{ ...base, type: 'append', prevTerm: 1, entries: [], commit: 0 }, /prevIndex/],
      [{ ...base, term: '3', type: 'heartbeatResp', ctx: 1 }, /term/],
      [{ ...base, term: -1, type: 'heartbeatResp', ctx: 1 }, /term/],
      [{ ...base, from: 'x'.repeat(300), type: 'timeoutNow' }, /from/],
      [{ ...base, type: 'explode' }, /type/],
      [
        { ...base, type: 'append', prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ t: 1, i: 1, y: 'x', d: '' }] },
        /y/,
      ],
      [{ ...base, type: 'snapshot', snapshot: { index: 1, term: 1, voters: 'm1', learners: [] } }, /voters/],
      [[1, 2, 3], /root|expected/i],
    ];
    for (const [m, why] of bad) assert.throws(() => decodeMessage(json(m)), why, JSON.stringify(m).slice(0, 80));
  });

  it('a peer sending a malformed or oversized frame loses its connection; the member keeps running', async () => {
    const t = new TcpTransport({ id: 'm2', peers: new Map(), logger: silentLogger });
    const got: Message[] = [];
    t.onMessage((m) => got.push(m));
    // Connections handed in through accept(), as the cluster port does.
    const server = net.createServer((s) => t.accept(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const send = (bytes: Buffer): Promise<'closed'> =>
      new Promise((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1', () => c.write(bytes));
        c.on('close', () => resolve('closed'));
        c.on('error', reject);
        setTimeout(() => reject(new Error('connection not closed')), 2000).unref();
      });
    try {
      assert.equal(await send(frame(json({ ...base, type: 'append', entries: [] }))), 'closed');
      const huge = Buffer.alloc(8);
      huge.writeUInt32BE(0xffffffff, 0);
      assert.equal(await send(huge), 'closed');
      // A good message on a new connection still arrives.
      const c = net.connect(port, '127.0.0.1');
      await new Promise((r) => c.once('connect', r));
      c.write(frame(encodeMessage({ ...base, type: 'heartbeatResp', ctx: 1 })));
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      c.destroy();
      assert.deepEqual(got, [{ ...base, type: 'heartbeatResp', ctx: 1 }]);
    } finally {
      server.close();
      await t.close();
    }
  });
});
