/**
 * The visualizer with 500 nodes and 5,000 tasks, in real headless Chromium: the real UI server over
 * an in-memory store (no daemon: a cluster that size does not fit on this machine). Measures and
 * prints the time to show the snapshot, a frame's render time, and how long a 500-task scale takes
 * to reach the screen; checks that only the columns in view are in the page (virtualised).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { systemClock } from '../../src/common/clock.js';
import type { NodeId, ServiceId, TaskId } from '../../src/common/ids.js';
import { silentLogger } from '../../src/common/logging.js';
import { MemoryProposer } from '../../src/store/proposer.js';
import { Store } from '../../src/store/store.js';
import type { NodeObject, ServiceObject, TaskObject } from '../../src/store/types.js';
import { serveUi, type UiServer } from '../../src/ui/server.js';
import { launchChromium, outputDir, type TestBrowser } from './browser.js';

const NODES = 500;
const SERVICES = 50;
const TASKS = 5000;

interface El {
  readonly dataset: Record<string, string | undefined>;
  scrollLeft: number;
  readonly scrollWidth: number;
}
declare const document: {
  querySelectorAll(selector: string): ArrayLike<El>;
  getElementById(id: string): El | null;
  body: El;
};
declare const window: { shoalUi: { snapshotToScreenMs: number; lastRenderMs: number; snapshotTasks: number } };

const meta = (id: string, now: number) => ({ ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now });

function node(i: number, now: number): NodeObject {
  return {
    ...meta(`node${String(i).padStart(4, '0')}`, now),
    ID: `node${String(i).padStart(4, '0')}` as NodeId,
    Spec: { Labels: {}, Role: i < 3 ? 'manager' : 'worker', Availability: i % 50 === 7 ? 'drain' : 'active' },
    Description: {
      Hostname: `host-${String(i).padStart(3, '0')}`,
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 4e9, MemoryBytes: 8 * 2 ** 30 },
      Engine: { EngineVersion: '20.10.24', Plugins: [] },
    },
    Status: { State: i % 100 === 42 ? 'down' : 'ready', Addr: `10.0.${i >> 8}.${i & 255}` },
    ...(i < 3
      ? { ManagerStatus: { Leader: i === 0, Reachability: 'reachable' as const, Addr: `10.0.0.${i}:2377` } }
      : {}),
  };
}

function service(i: number, now: number): ServiceObject {
  return {
    ...meta(`svc${i}`, now),
    ID: `svc${i}` as ServiceId,
    Spec: {
      Name: `app${i}`,
      Labels: { 'com.docker.stack.namespace': `stack${i % 5}` },
      TaskTemplate: { ContainerSpec: { Image: `shoal-test/busybox:1` } },
      Mode: { Replicated: { Replicas: TASKS / SERVICES } },
    },
    SpecVersion: 1,
    Endpoint: { Spec: {} },
  };
}

function task(s: number, slot: number, nodeIndex: number, now: number, id = `t${s}x${slot}`): TaskObject {
  return {
    ...meta(id, now),
    ID: id as TaskId,
    ServiceID: `svc${s}` as ServiceId,
    Slot: slot,
    NodeID: `node${String(nodeIndex).padStart(4, '0')}` as NodeId,
    Spec: { ContainerSpec: { Image: 'shoal-test/busybox:1' }, Resources: { Reservations: { MemoryBytes: 2 ** 26 } } },
    SpecVersion: 1,
    ServiceAnnotations: { Name: `app${s}`, Labels: {} },
    Annotations: { Name: '' },
    Status: { Timestamp: now, State: 'running', Message: 'started' },
    DesiredState: 'running',
  };
}

describe('visualizer with 500 nodes and 5,000 tasks', { timeout: 120_000 }, () => {
  let store: Store;
  let ui: UiServer;
  let chrome: TestBrowser;
  let page: Page;
  let shots = '';

  before(async () => {
    shots = await outputDir('visualizer');
    const proposer = new MemoryProposer();
    store = new Store(proposer, systemClock);
    proposer.bind((i, a) => store.apply(i, a));
    const now = Date.now();
    await store.update((tx) => {
      for (let i = 0; i < NODES; i++) tx.create('node', node(i, now));
      for (let s = 0; s < SERVICES; s++) tx.create('service', service(s, now));
      for (let k = 0; k < TASKS; k++) {
        const s = k % SERVICES;
        tx.create('task', task(s, Math.floor(k / SERVICES) + 1, k % NODES, now - k * 1000));
      }
    });
    ui = await serveUi(
      { store: () => store, self: () => 'node0000', logs: async function* () {} },
      { addr: '127.0.0.1:0', logger: silentLogger },
    );
    chrome = await launchChromium();
    page = await chrome.context.newPage();
  });

  after(async () => {
    await chrome?.close();
    await ui?.close();
  });

  it('shows the snapshot, renders only the columns in view, and takes a 500-task scale live', async () => {
    const t0 = Date.now();
    await page.goto(`http://127.0.0.1:${ui.address.port}/`);
    await page.waitForFunction(() => window.shoalUi.snapshotToScreenMs > 0, undefined, { timeout: 30_000 });
    const loaded = Date.now() - t0;
    const snap = await page.evaluate(() => ({ ...window.shoalUi }));
    assert.equal(snap.snapshotTasks, TASKS);
    const columns = await page.locator('section[data-node-id]').count();
    // 1400 px of view at 236 px a column, plus two on each side: never all 500.
    assert.ok(columns > 3 && columns < 20, `${columns} columns in the page`);
    assert.ok(await page.locator('section.node-down, section.avail-drain').count(), 'a down or drained node in view');
    await page.screenshot({ path: path.join(shots, '4-scale-500-nodes.png') });

    // Scroll to the far end: the last node's column is rendered on the next frame.
    await page.evaluate(() => {
      const b = document.getElementById('board')!;
      b.scrollLeft = b.scrollWidth;
    });
    await page.locator('section[data-node-id="node0499"]').waitFor({ timeout: 2_000 });
    const scrolledRender = await page.evaluate(() => window.shoalUi.lastRenderMs);

    // 500 more tasks in one commit (service app0 scaled from 100 to 600).
    const before = Date.now();
    await store.update((tx) => {
      for (let k = 0; k < 500; k++) tx.create('task', task(0, 101 + k, (k * 7) % NODES, tx.now, `new${k}`));
    });
    const want = String(store.index);
    await page.waitForFunction((i) => document.body.dataset.index === i, want, { timeout: 5_000, polling: 'raf' });
    const deltaMs = Date.now() - before;
    const total = await page.locator('#task-total').getAttribute('data-count');
    assert.equal(total, String(TASKS + 500));
    const figures = {
      nodes: NODES,
      tasks: TASKS,
      pageLoadToFirstFrameMs: loaded,
      snapshotArrivalToScreenMs: Math.round(snap.snapshotToScreenMs),
      firstFrameRenderMs: Math.round(snap.lastRenderMs * 10) / 10,
      renderAfterScrollMs: Math.round(scrolledRender * 10) / 10,
      columnsInDom: columns,
      scale500CommitToScreenMs: deltaMs,
    };
    console.log(`# ${JSON.stringify(figures)}`);
    assert.ok(deltaMs < 1000, `a 500-task scale took ${deltaMs} ms to show`);
    assert.ok(snap.lastRenderMs < 200, `a frame took ${snap.lastRenderMs} ms`);
  });
});
