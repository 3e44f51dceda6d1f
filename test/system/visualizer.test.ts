/**
 * The visualizer in a lab (1 manager, 1 worker), in real headless Chromium: `lab up` prints manager1's
 * page with its token, the page shows both hosts, a service's tasks on both, and a `lab stop` of the
 * worker turns its column down (the time it took is printed). Screenshots go to test-output/visualizer.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium, outputDir, type TestBrowser } from '../integration/browser.js';
import { LabClient } from './lab-client.js';

const NAME = `uv${process.pid % 100000}`;
const L = new LabClient(NAME);

describe('visualizer in a lab', { timeout: 600_000 }, () => {
  let chrome: TestBrowser | undefined;
  let page: Page;
  let url = '';
  let shots = '';

  before(async () => {
    shots = await outputDir('visualizer');
    const out = L.lab(['up', '--managers', '1', '--workers', '1']);
    url = /^visualizer: (\S+)$/m.exec(out)?.[1] ?? '';
    assert.ok(url, `lab up printed no visualizer address:\n${out}`);
    chrome = await launchChromium();
    page = await chrome.context.newPage();
  });

  after(async () => {
    await chrome?.close();
    L.down();
  });

  it('refuses the page without the token', async () => {
    const bare = new URL(url);
    bare.search = '';
    const r = await fetch(bare);
    assert.equal(r.status, 401);
  });

  it("shows the lab's hosts and a service's tasks on them", async () => {
    await page.goto(url);
    for (const h of ['manager1', 'worker1'])
      await page.locator(`section[data-state="ready"]`, { hasText: h }).waitFor({ timeout: 30_000 });
    L.on('manager1', [
      'docker',
      'service',
      'create',
      '--detach',
      '--name',
      'uiweb',
      '--replicas',
      '4',
      'shoal-test/busybox:1',
      'sleep',
      '3600',
    ]);
    await page.waitForFunction(
      () =>
        (
          globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<unknown> } }
        ).document.querySelectorAll('[data-task-id][data-state="running"]').length === 4,
      undefined,
      { timeout: 120_000 },
    );
    assert.ok((await page.locator('section', { hasText: 'worker1' }).locator('[data-task-id]').count()) > 0);
    await page.screenshot({ path: path.join(shots, '5-lab.png') });
  });

  it('turns the column of a stopped worker down', async () => {
    const t0 = Date.now();
    L.lab(['stop', 'worker1']);
    await page.locator('section[data-state="down"]', { hasText: 'worker1' }).waitFor({ timeout: 120_000 });
    console.log(`# worker1's column down ${Date.now() - t0} ms after lab stop`);
    // Its tasks are rescheduled on manager1.
    await page
      .locator('section', { hasText: 'manager1' })
      .locator('[data-task-id][data-state="running"]')
      .nth(3)
      .waitFor({ timeout: 120_000 });
    await page.screenshot({ path: path.join(shots, '6-lab-worker-down.png') });
  });
});
