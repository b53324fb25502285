// Debian's Chromium driven by puppeteer-core for the dashboard tests: headless, no network beyond loopback use,
// a fresh profile per launch, removed on close.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { requireChromium } from './required-tools.js';
import { REPO } from './fixtures.js';

export interface TestBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<TestBrowser> {
  const executablePath = requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'striatum-chromium-'));
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
    ],
    defaultViewport: { width: 1360, height: 900 },
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where tests write screenshots: $STRIATUM_TEST_ARTIFACTS, else test-artifacts/ in the repository (git-ignored). */
export function artifactPath(name: string): string {
  const dir = process.env.STRIATUM_TEST_ARTIFACTS ?? join(REPO, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  const path = artifactPath(name);
  writeFileSync(path, await page.screenshot({ type: 'png', fullPage }));
  return path;
}

/** Log in through the page's form. */
export async function login(page: Page, username: string, password: string): Promise<void> {
  await page.waitForSelector('#login-username');
  await page.type('#login-username', username);
  await page.type('#login-password', password);
  await page.click('#login-submit');
}
