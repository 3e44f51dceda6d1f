/**
 * Real headless Chromium for page tests (Debian's `chromium`, driven by playwright-core), on a fresh
 * profile that is removed afterwards, and a folder for screenshots (test-output/, gitignored).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { ROOT } from './support.js';

export const CHROMIUM = '/usr/bin/chromium';

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<TestBrowser> {
  const profile = await mkdtemp(path.join(tmpdir(), 'shoal-chromium-'));
  // A fresh profile: playwright takes it as the persistent context's directory, not as a flag.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport: { width: 1400, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Where a test writes its screenshots. */
export async function outputDir(name: string): Promise<string> {
  const dir = path.join(ROOT, 'test-output', name);
  await mkdir(dir, { recursive: true });
  return dir;
}
