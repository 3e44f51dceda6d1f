/**
 * The visualizer in real headless Chromium, served by a real `shoal daemon --ui-addr`: the page shows
 * the node, a `service scale` reaches the page within a second of the CLI returning (measured and
 * printed), a task's panel shows its slot history and log lines, the stack filter hides other
 * services' cards, and draining the node changes its column. Screenshots go to test-output/visualizer.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium, outputDir, type TestBrowser } from './browser.js';
import { DOCKER, ShoalProcess } from './support.js';

const LISTEN = '127.0.0.1:4471';
const UI = '127.0.0.1:4472';
const IMAGE = 'shoal-test/busybox:1';

/** How many task cards of `service` the page shows. */
function cards(page: Page, service: string): Promise<number> {
  return page.locator('[data-task-id] b', { hasText: new RegExp(`^${service}\\.`) }).count();
}

/*
 * The few browser globals the page functions below use. They run in Chromium; this project's Node
 * build has no DOM types. (String expressions would need 'unsafe-eval', which the page's CSP forbids.)
 */
interface El {
  readonly textContent: string | null;
  readonly dataset: Record<string, string | undefined>;
}
declare const document: { querySelectorAll(selector: string): ArrayLike<El>; getElementById(id: string): El | null };
declare const window: { shoalUi: { firstSeen(taskId: string): number | undefined } };

/** Waits until `selector` matches exactly `n` elements. */
function untilCount(page: Page, selector: string, n: number, timeout = 10_000): Promise<void> {
  const want: [string, number] = [selector, n];
  return page
    .waitForFunction(([s, k]) => document.querySelectorAll(s).length === k, want, { timeout, polling: 'raf' })
    .then(() => undefined);
}

describe('visualizer of a real daemon', { timeout: 300_000 }, () => {
  let shoal: ShoalProcess;
  let chrome: TestBrowser;
  let page: Page;
  let shots = '';

  before(async () => {
    shots = await outputDir('visualizer');
    shoal = await ShoalProcess.create('it-ui');
    shoal.extraArgs = ['--listen-addr', LISTEN, '--ui-addr', UI];
    await shoal.start();
    chrome = await launchChromium();
    page = await chrome.context.newPage();
  });

  after(async () => {
    await chrome?.close();
    await shoal?.cleanup();
  });

  it('says the node is no manager before swarm init, then shows its column', async () => {
    await page.goto(`http://${UI}/`);
    await page.waitForFunction(
      () => document.getElementById('status')?.textContent?.includes('not a swarm manager') ?? false,
    );
    shoal.docker(['swarm', 'init', '--listen-addr', LISTEN, '--advertise-addr', '127.0.0.1']);
    shoal.rememberNodeId();
    // The store came: the stream ends, the page reconnects and gets a snapshot with this node.
    const col = page.locator('section[data-node-id]', { hasText: 'it-ui' });
    await col.waitFor({ timeout: 10_000 });
    assert.equal(await col.getAttribute('data-state'), 'ready');
    assert.match((await col.textContent()) ?? '', /manager · Leader/);
    assert.match((await col.textContent()) ?? '', /CPU 0\/\d+/);
  });

  it('shows a service scale within a second of the CLI returning', async () => {
    shoal.docker([
      'service',
      'create',
      '--detach',
      '--name',
      'ui-web',
      '--replicas',
      '1',
      '--reserve-memory',
      '16m',
      '--label',
      'com.docker.stack.namespace=demo',
      IMAGE,
      'sh',
      '-c',
      'echo hello-from-ui; sleep 3600',
    ]);
    await untilCount(page, '[data-state="running"]', 1, 60_000);
    const t0 = Date.now();
    await promisify(execFile)(DOCKER, ['service', 'scale', '--detach', 'ui-web=4'], {
      env: { ...process.env, ...shoal.env() },
    });
    const cliDone = Date.now();
    await page.locator('[data-task-id] b', { hasText: /^ui-web\.4$/ }).waitFor({ timeout: 5_000 });
    const shown = Date.now();
    assert.equal(await cards(page, 'ui-web'), 4);
    // The page's own clock for when each task first arrived over the stream.
    const arrived = Number(
      await page.evaluate(() =>
        Math.max(
          ...Array.from(
            document.querySelectorAll('[data-task-id]'),
            (e) => window.shoalUi.firstSeen(e.dataset.taskId ?? '') ?? 0,
          ),
        ),
      ),
    );
    console.log(
      `# scale 1->4: CLI took ${cliDone - t0} ms; the last new task reached the page ${arrived - cliDone} ms ` +
        `after the CLI returned; all 4 cards seen by the test ${shown - cliDone} ms after it (${shown - t0} ms after the command started)`,
    );
    assert.ok(arrived - cliDone < 1000, `the page got the new tasks ${arrived - cliDone} ms after the CLI returned`);
    assert.ok(shown - cliDone < 1000, `cards showed ${shown - cliDone} ms after the CLI returned`);
    await page.screenshot({ path: path.join(shots, '1-scaled.png') });
    await untilCount(page, '[data-state="running"]', 4, 60_000);
    assert.match(
      (await page.locator('section[data-node-id]', { hasText: 'it-ui' }).textContent()) ?? '',
      /MEM 64 MiB\//,
    );
  });

  it('opens a task: its slot history and last log lines', async () => {
    await page.locator('[data-task-id]', { hasText: 'ui-web.1' }).click();
    const panel = page.locator('#panel');
    await panel.locator('pre.logs', { hasText: 'hello-from-ui' }).waitFor({ timeout: 10_000 });
    assert.ok((await panel.locator('tr[data-history-id]').count()) >= 1);
    await page.screenshot({ path: path.join(shots, '2-task-panel.png') });
    await page.locator('#panel-close').click();
  });

  it('filters by stack and by service', async () => {
    shoal.docker(['service', 'create', '--detach', '--name', 'ui-other', IMAGE, 'sleep', '3600']);
    await untilCount(page, '[data-task-id]', 5, 30_000);
    await page.selectOption('#filter-stack', 'demo');
    await untilCount(page, '[data-task-id]', 4);
    assert.equal(await cards(page, 'ui-other'), 0);
    await page.selectOption('#filter-stack', '');
    await page.selectOption('#filter-service', { label: 'ui-other' });
    await untilCount(page, '[data-task-id]', 1);
    assert.equal(await cards(page, 'ui-web'), 0);
    await page.selectOption('#filter-service', '');
    await untilCount(page, '[data-task-id]', 5);
  });

  it('a drained node looks different and its tasks leave it', async () => {
    const col = page.locator('section[data-node-id]', { hasText: 'it-ui' });
    assert.doesNotMatch((await col.getAttribute('class')) ?? '', /avail-drain/);
    const t0 = Date.now();
    shoal.docker(['node', 'update', '--availability', 'drain', 'it-ui']);
    await page.locator('section[data-availability="drain"]').waitFor({ timeout: 1_000 });
    console.log(`# drain shown ${Date.now() - t0} ms after the command started`);
    assert.match((await col.getAttribute('class')) ?? '', /avail-drain/);
    // With the only node drained, its tasks wait in the unassigned column.
    await untilCount(page, 'section[data-node-id=""] [data-task-id]', 5, 60_000);
    // The old tasks stay on the node while they stop (desired shutdown), then leave the board.
    await untilCount(page, 'section[data-availability="drain"] [data-task-id]', 0, 60_000);
    await page.screenshot({ path: path.join(shots, '3-drained.png') });
    shoal.docker(['node', 'update', '--availability', 'active', 'it-ui']);
    await page.locator('section[data-availability="active"]').waitFor({ timeout: 1_000 });
  });
});
