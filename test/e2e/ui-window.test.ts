// End to end through the window: `kotaro serve` with the CPU backend and the tiny fixture
// model, driven in Debian's Chromium. Registers the model folder and loads the model from
// the Models view, drops images (one corrupt), watches them queue, stream and finish,
// cancels one, checks the live graphs got points, reloads the page and restarts the host
// to see the results stay, exports the history and switches the interface to Japanese.
// Screenshots of the main views land in test-output/screenshots/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { launchChromium } from '../helpers/browser.js';
import { fixturesRoot, repoRoot, requireFile } from '../helpers/paths.js';

const modelDir = join(fixturesRoot, 'tiny-qwen25vl-a', 'llamacpp');
const imageDir = join(fixturesRoot, 'tiny-qwen25vl-a', 'images');
const shots = join(repoRoot, 'test-output', 'screenshots');
const work = mkdtempSync(join(tmpdir(), 'kotaro-ui-'));
const dataDir = join(work, 'data');
const brokenImage = join(work, 'broken.jpg');

let serve: ServeProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function openWindow(): Promise<Page> {
  const p = await browser.newPage({ viewport: { width: 1360, height: 860 }, locale: 'en-US' });
  p.on('pageerror', (e) => pageErrors.push(e.message));
  p.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  await p.goto(serve.url);
  await p.getByTestId('main-view').waitFor();
  return p;
}

const cards = () => page.getByTestId('job-card');
// Files uploaded through `kotaro serve` are stored as <inbox>/<uuid>/<name>: the card keeps the name.
const card = (name: string) => cards().filter({ has: page.getByRole('heading', { name, exact: true }) });
const cardState = (name: string) => card(name).getAttribute('data-state');
const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`) });

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}\n--- server output ---\n${serve.output().slice(-3000)}`);
}

beforeAll(async () => {
  requireFile(join(modelDir, 'model-f32.gguf'), 'the fixture model (KOTARO_FIXTURES)');
  mkdirSync(shots, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(brokenImage, Buffer.from('this is not a JPEG, only its name says so'));
  serve = await startServe({ KOTARO_DATA_DIR: dataDir });
  browser = await launchChromium();
  page = await openWindow();
});

afterAll(async () => {
  await browser?.close();
  await serve?.stop();
});

describe('the window on kotaro serve', () => {
  it('reaches the views by keyboard and shows where to start', async () => {
    await page.locator('[data-testid="worker-state"][data-state="ready"]').waitFor({ timeout: 60_000 });
    await expect(page.getByTestId('no-model-notice').isVisible()).resolves.toBe(true);
    // The tab list: Tab reaches the selected tab, arrow keys move, Enter/Space are native.
    await page.getByTestId('tab-queue').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.getByTestId('tab-models').getAttribute('aria-selected')).toBe('true');
    expect(await page.evaluate('document.activeElement?.getAttribute("data-testid")')).toBe('tab-models');
    await page.getByTestId('view-models').waitFor();
    // Tab moves on into the view: the focused control shows a visible focus ring.
    await page.keyboard.press('Tab');
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle + " " + document.activeElement.textContent');
    expect(outline).toMatch(/^solid Rescan$/);
    await shot('ui-keyboard-focus');
  });

  it('registers the model folder and loads the fixture model with progress', async () => {
    await page.getByTestId('model-folder-input').fill(modelDir);
    await page.getByTestId('model-folder-input').press('Enter');
    const row = page.getByTestId('model-row').filter({ hasText: 'model-f32.gguf' });
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toMatch(/F32/);
    await row.getByTestId('model-load').click();
    const status = page.getByTestId('model-status').first();
    await waitFor('the model to load', async () => (await status.getAttribute('data-state')) === 'loaded', 120_000);
    expect(await status.textContent()).toMatch(/loaded/i);
    expect(await row.textContent()).toMatch(/Loaded/);
    await shot('ui-models');
  });

  it('queues several images at once, streams their results and finishes them; a corrupt file fails with its reason', async () => {
    await page.getByTestId('tab-queue').click();
    const names = ['shapes_200x150.png', 'gradient_56x84.png', 'tall_90x300.png'];
    await page.getByTestId('file-input').setInputFiles([...names.map((n) => join(imageDir, n)), brokenImage]);
    // All four cards at once, each with a picture (a local preview before the upload ends).
    await waitFor('four cards', async () => (await cards().count()) === 4, 5_000, 20);
    for (const name of names) expect(await card(name).locator('img').count()).toBe(1);

    // Watch the stream: some card is running with text that grows before it is done.
    let sawStreaming = false;
    let sawProgress = false;
    await waitFor(
      'the images to finish',
      async () => {
        const states = await cards().evaluateAll((els) =>
          els.map((e) => ({
            state: e.getAttribute('data-state'),
            text: e.querySelector('[data-testid="job-description"]')?.textContent ?? '',
            progress: e.querySelector('progress') !== null,
          })),
        );
        if (states.some((s) => s.state === 'running' && s.text.length > 0)) sawStreaming = true;
        if (states.some((s) => (s.state === 'running' || s.state === 'pending') && s.progress)) sawProgress = true;
        return states.every((s) => s.state === 'done' || s.state === 'failed');
      },
      170_000,
      40,
    );
    expect(sawProgress).toBe(true);
    expect(sawStreaming).toBe(true);
    for (const name of names) {
      expect(await cardState(name)).toBe('done');
      expect((await card(name).getByTestId('job-description').textContent())!.length).toBeGreaterThan(0);
      expect(await card(name).getByTestId('job-timings').textContent()).toMatch(/tokens\/s/);
    }
    expect(await cardState('broken.jpg')).toBe('failed');
    expect(await card('broken.jpg').getByTestId('job-error').textContent()).toMatch(/Error [A-Z_]+: ./);
    expect(await page.getByTestId('queue-counts').textContent()).toBe('0 waiting · 0 running · 3 done · 1 failed');
    await shot('ui-queue-done');
  });

  it('the live panel received VRAM samples and per-image latency', async () => {
    const vramPoints = Number(await page.getByTestId('vram-chart').getAttribute('data-points'));
    const latencyPoints = Number(await page.getByTestId('latency-chart').getAttribute('data-points'));
    expect(vramPoints).toBeGreaterThan(5);
    expect(latencyPoints).toBe(3);
    expect(await page.getByTestId('vram-summary').textContent()).toMatch(/used/);
    expect(await page.getByTestId('latency-last').textContent()).toMatch(/Vision tower/);
    // The chart is drawn: its canvas is not blank.
    // (The page's DOM types are not in this Node project: the canvas is described structurally.)
    type Canvas = { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
    const inked = await page.getByTestId('vram-chart').locator('canvas').evaluate((c: Canvas) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(1000);
  });

  it('cancels a waiting image', async () => {
    await page.getByTestId('file-input').setInputFiles([join(imageDir, 'wide_640x360.png'), join(imageDir, 'gradient_56x84.png')]);
    // The newest batch is on top: the second image waits behind the first.
    const waiting = cards().nth(1);
    await waitFor('the second image to be queued', async () => (await waiting.getAttribute('data-state')) === 'pending', 10_000, 20);
    await waiting.getByTestId('job-cancel').click();
    await waitFor('the cancel', async () => (await waiting.getAttribute('data-state')) === 'cancelled', 10_000, 20);
    await waitFor('the first to end', async () => ['done', 'failed', 'cancelled'].includes((await cards().nth(0).getAttribute('data-state')) ?? ''), 120_000);
    expect(await cards().nth(0).getAttribute('data-state')).toBe('done');
  });

  it('keeps the results over a page reload and lists them in the history, searchable and exportable', async () => {
    const before = await cards().count();
    await page.reload();
    await page.getByTestId('main-view').waitFor();
    await waitFor('the results after the reload', async () => (await cards().count()) === before, 10_000);
    expect(await cardState('broken.jpg')).toBe('failed');
    expect(await card('shapes_200x150.png').getByTestId('job-description').textContent()).not.toBe('');

    await page.getByTestId('tab-history').click();
    await waitFor('the history', async () => (await page.getByTestId('history-row').count()) === before, 10_000);
    await page.getByTestId('history-search').fill('shapes');
    await waitFor('the search', async () => (await page.getByTestId('history-row').count()) === 1, 10_000);
    await page.getByTestId('history-row').getByRole('button').click();
    await page.locator('.history-opened [data-testid="job-card"]').waitFor();
    await shot('ui-history');

    const download = page.waitForEvent('download');
    await page.getByTestId('export-json').click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/\.json$/);
    const exported = JSON.parse(readFileSync((await file.path())!, 'utf8')) as unknown;
    expect(JSON.stringify(exported)).toContain('shapes_200x150.png');
    expect(JSON.stringify(exported)).not.toContain('tall_90x300.png');

    const csv = page.waitForEvent('download');
    await page.getByTestId('history-search').fill('');
    await waitFor('the full list', async () => (await page.getByTestId('history-row').count()) === before, 10_000);
    await page.getByTestId('export-csv').click();
    const csvText = readFileSync((await (await csv).path())!, 'utf8');
    expect(csvText.split('\n').filter((l) => l.includes('.png') || l.includes('.jpg')).length).toBeGreaterThanOrEqual(before);
  });

  it('keeps the results after the host restarts', async () => {
    const before = await page.getByTestId('history-row').count();
    await page.close();
    await serve.stop();
    serve = await startServe({ KOTARO_DATA_DIR: dataDir });
    page = await openWindow();
    await waitFor('the results from the history store', async () => (await cards().count()) === before, 20_000);
    expect(await cardState('shapes_200x150.png')).toBe('done');
    expect(await card('shapes_200x150.png').locator('img').count()).toBe(1); // the stored thumbnail
  });

  it('switches the interface to Japanese from the settings', async () => {
    await page.getByTestId('tab-settings').click();
    await page.getByTestId('setting-uiLanguage').selectOption('ja');
    await page.getByTestId('settings-save').click();
    await waitFor('the Japanese interface', async () => (await page.getByTestId('tab-history').textContent()) === '履歴', 10_000);
    expect(await page.evaluate('document.documentElement.lang')).toBe('ja');
    await shot('ui-settings-ja');
    await page.getByTestId('tab-queue').click();
    expect(await page.getByTestId('queue-counts').textContent()).toMatch(/^待機 0/);
    await shot('ui-queue-ja');
  });

  it('follows the system language when the setting says so', async () => {
    await page.getByTestId('tab-settings').click();
    await page.getByTestId('setting-uiLanguage').selectOption('system');
    await page.getByTestId('settings-save').click();
    await waitFor('English again (the browser says en-US)', async () => (await page.getByTestId('tab-history').textContent()) === 'History', 10_000);
    const japanese = await browser.newPage({ locale: 'ja-JP' });
    await japanese.goto(serve.url);
    await japanese.getByTestId('main-view').waitFor();
    await waitFor('a Japanese window for a Japanese system', async () => (await japanese.getByTestId('tab-history').textContent()) === '履歴', 10_000);
    await japanese.close();
  });

  it('logged no errors in the page', () => {
    // The 'failed' image's own request errors are not page errors; anything else is.
    expect(pageErrors).toEqual([]);
  });
});
