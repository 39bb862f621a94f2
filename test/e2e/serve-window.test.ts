// End to end: `kotaro serve` started, the page opened in Debian's Chromium, the window's
// main view rendered with the worker's status arriving over the WebSocket bridge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { launchChromium } from '../helpers/browser.js';
import { repoRoot } from '../helpers/paths.js';

let serve: ServeProcess;
let browser: Browser;
const shots = join(repoRoot, 'test-output', 'screenshots');

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  serve = await startServe();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await serve?.stop();
});

describe('kotaro serve in Chromium', () => {
  it('renders the main view and shows the worker ready', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(serve.url);
    await page.getByTestId('main-view').waitFor();
    await page.locator('[data-testid="worker-state"][data-state="ready"]').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(shots, 'foundation-main-view.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });

  it('refuses a page request without the token and a WebSocket from another origin', async () => {
    const res = await fetch(serve.origin + '/');
    expect(res.status).toBe(401);
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`${serve.origin.replace('http', 'ws')}/bridge?token=${serve.token}`, { headers: { Origin: 'http://evil.example' } });
    const outcome = await new Promise<string>((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('error', (e) => resolve(String(e.message)));
    });
    expect(outcome).toMatch(/403/);
  });
});
