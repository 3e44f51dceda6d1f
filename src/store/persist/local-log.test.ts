import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { systemClock } from '../../common/clock.js';
import { Store } from '../store.js';
import type { NodeObject } from '../types.js';
import { LocalLog } from './local-log.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'shoal-log-'));
  dirs.push(d);
  return d;
}

const node = (id: string): NodeObject =>
  ({
    ID: id,
    Version: { Index: 0 },
    CreatedAt: 0,
    UpdatedAt: 0,
    Spec: { Labels: {}, Role: 'worker', Availability: 'active' },
    Description: { Hostname: id, Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 1, MemoryBytes: 1 }, Engine: { EngineVersion: '', Plugins: [] } },
    Status: { State: 'ready', Addr: '' },
  }) as unknown as NodeObject;

async function open(dir: string, interval = 10000): Promise<{ store: Store; log: LocalLog }> {
  const log = new LocalLog(dir, () => interval);
  const store = new Store(log, systemClock);
  await log.open(store);
  return { store, log };
}

describe('local log', () => {
  it('replays every acknowledged write after a restart', async () => {
    const dir = await tempDir();
    const a = await open(dir);
    const created = (n: NodeObject) => [{ kind: 'create' as const, table: 'node' as const, object: n }];
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.log.propose(created(node(`n${i}`)))));
    assert.ok(a.log.stats.fsyncs < 50, 'concurrent proposals share fsyncs (group commit)');
    await a.log.close();
    const b = await open(dir);
    assert.equal(b.store.view((tx) => tx.all('node')).length, 50);
    assert.equal(b.store.index, 50);
    await b.log.close();
  });

  it('truncates a torn tail and keeps going', async () => {
    const dir = await tempDir();
    const a = await open(dir);
    await a.store.update((tx) => tx.create('node', node('x')));
    await a.log.close();
    const [seg] = (await readdir(dir)).filter((f) => f.endsWith('.wal'));
    await appendFile(path.join(dir, seg!), Buffer.from([0, 0, 1, 0, 9, 9])); // half a record
    const b = await open(dir);
    assert.equal(b.store.view((tx) => tx.all('node')).length, 1);
    await b.store.update((tx) => tx.create('node', node('y')));
    await b.log.close();
    const c = await open(dir);
    assert.equal(c.store.view((tx) => tx.all('node')).length, 2);
    await c.log.close();
  });

  it('refuses to start on corruption in the middle of the log', async () => {
    const dir = await tempDir();
    const a = await open(dir);
    await a.store.update((tx) => tx.create('node', node('x')));
    await a.store.update((tx) => tx.create('node', node('y')));
    await a.log.close();
    const [seg] = (await readdir(dir)).filter((f) => f.endsWith('.wal'));
    const file = path.join(dir, seg!);
    const buf = await readFile(file);
    // Flip a byte inside the first entry (after the 20-byte format record); more records follow it.
    buf[40] = buf[40]! ^ 0xff;
    await writeFile(file, buf);
    await assert.rejects(open(dir), /corrupt.*refusing to start/);
  });

  it('snapshots every interval and restores from snapshot plus log', async () => {
    const dir = await tempDir();
    const a = await open(dir, 10);
    for (let i = 0; i < 25; i++) await a.store.update((tx) => tx.create('node', node(`n${i}`)));
    await a.log.close();
    const files = await readdir(dir);
    assert.equal(files.filter((f) => f.endsWith('.snap')).length, 1);
    const b = await open(dir, 10);
    assert.equal(b.store.view((tx) => tx.all('node')).length, 25);
    assert.equal(b.store.index, 25);
    await b.log.close();
  });
});
