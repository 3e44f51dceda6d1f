import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogBroker, type LogControlMessage } from './log-broker.js';

const line = (s: string) => ({ stream: 1 as const, timestamp: '2026-01-01T00:00:00.000000000Z', line: s });

describe('log broker', () => {
  it('asks the node down its session, yields what it publishes, and cancels when the reader stops', async () => {
    const b = new LogBroker();
    const sent: LogControlMessage[] = [];
    b.attach('n1', (m) => (sent.push(m), true));
    assert.equal(b.reader('n2'), undefined, 'a node without a session has no reader');
    const it = b.reader('n1')!.logs('t1', { follow: true, stdout: true, stderr: true })[Symbol.asyncIterator]();
    const first = it.next();
    await new Promise((r) => setImmediate(r));
    const req = sent[0] as Extract<LogControlMessage, { logs: unknown }>;
    assert.equal(req.logs.taskId, 't1');
    b.publish('n2', { id: req.logs.id, lines: [line('forged')] });
    b.publish('n1', { id: req.logs.id, lines: [line('a'), line('b')] });
    assert.equal((await first).value?.line, 'a', 'another node cannot publish into this subscription');
    assert.equal((await it.next()).value?.line, 'b');
    await it.return!();
    assert.deepEqual(sent.at(-1), { logsCancel: req.logs.id });
  });

  it('ends a subscription with a clear error when the node goes away, instead of hanging', async () => {
    const b = new LogBroker();
    const detach = b.attach('n1', () => true);
    const lines = b.reader('n1')!.logs('t1', { follow: true, stdout: true, stderr: true });
    const reading = (async () => {
      for await (const _ of lines) void _;
    })();
    await new Promise((r) => setImmediate(r));
    detach();
    await assert.rejects(reading, /node n1 went away/);
  });
});
