// `kotaro analyze` over the host services with the scripted worker: streamed text, the JSON
// document, exit codes, the model's projector found beside it, argument errors, and the run
// recorded in the history without changing the saved settings.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAnalyze } from '../../electron/cli/commands/analyze.js';
import { HistoryStore } from '../../electron/services/history-store.js';
import { SETTINGS_FILE } from '../../electron/services/settings-store.js';
import { writeFakeWorker } from './helpers/fake-worker.js';
import { vlFixtureFolder } from './helpers/host.js';
import { fixtureImage, makeBadImages } from './helpers/images.js';

function capture() {
  let out = '';
  let err = '';
  return { io: { out: (t: string) => void (out += t), err: (t: string) => void (err += t) }, get out() { return out; }, get err() { return err; } };
}

describe('kotaro analyze', () => {
  it('streams the text of each image and records the run in the history', async () => {
    const fake = writeFakeWorker();
    const dataDir = mkdtempSync(join(tmpdir(), 'kotaro-cli-'));
    const c = capture();
    const code = await runAnalyze(
      [fixtureImage('tall_90x300.png'), fixtureImage('gradient_56x84.png'), '--model', join(vlFixtureFolder, 'model-q8_0.gguf'), '--backend', 'cpu'],
      c.io,
      { workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile }, dataDir },
    );
    expect(code).toBe(0);
    expect(c.out).toContain(`== ${fixtureImage('tall_90x300.png')} ==\nw1 w2 w3 \n-- comments --\nw4 w5 \n`);
    expect(c.out).toContain(`== ${fixtureImage('gradient_56x84.png')} ==`);
    const load = fake.log().find((e) => e.type === 'model.load')!;
    expect(load.options).toMatchObject({ modelPath: join(vlFixtureFolder, 'model-q8_0.gguf'), mmprojPath: join(vlFixtureFolder, 'mmproj-f16.gguf'), backend: 'cpu' });
    const history = HistoryStore.open(dataDir);
    expect(history.search({ query: '', limit: 10, offset: 0 }).items.map((j) => j.state)).toEqual(['done', 'done']);
    history.close();
    expect(existsSync(join(dataDir, SETTINGS_FILE))).toBe(false); // --backend was for this run only
  });

  it('prints one JSON document with --json and exits 1 when an image fails', async () => {
    const fake = writeFakeWorker();
    const bad = await makeBadImages();
    const c = capture();
    const code = await runAnalyze(
      [fixtureImage('tall_90x300.png'), bad.truncated, '--model', join(vlFixtureFolder, 'model-f32.gguf'), '--mmproj', join(vlFixtureFolder, 'mmproj-q8_0.gguf'), '--json'],
      c.io,
      { workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile }, dataDir: mkdtempSync(join(tmpdir(), 'kotaro-cli-')) },
    );
    expect(code).toBe(1);
    const doc = JSON.parse(c.out);
    expect(doc.model).toMatchObject({ mmprojPath: join(vlFixtureFolder, 'mmproj-q8_0.gguf'), backend: 'cpu' });
    expect(doc.results).toEqual([
      expect.objectContaining({ image: fixtureImage('tall_90x300.png'), state: 'done', description: 'w1 w2 w3', comments: ['w4', 'w5'] }),
      expect.objectContaining({ image: bad.truncated, state: 'failed', error: { code: 'IMAGE_CORRUPT', message: expect.stringContaining('truncated') } }),
    ]);
    expect(c.err).toBe('');
  });

  it('refuses bad arguments with coded errors', async () => {
    const c = capture();
    await expect(runAnalyze([], c.io)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(runAnalyze(['a.png'], c.io)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/--model/) });
    await expect(runAnalyze(['a.png', '--model', 'm.gguf', '--backend', 'metal'], c.io)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const fake = writeFakeWorker();
    await expect(runAnalyze(['a.png', '--model', '/nonexistent/m.gguf'], c.io, { workerEntry: fake.entry, dataDir: mkdtempSync(join(tmpdir(), 'kotaro-cli-')) }))
      .rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(runAnalyze(['a.png', '--model', join(vlFixtureFolder, 'mmproj-f16.gguf')], c.io, { workerEntry: fake.entry, dataDir: mkdtempSync(join(tmpdir(), 'kotaro-cli-')) }))
      .rejects.toMatchObject({ code: 'MODEL_UNUSABLE' });
    expect(readFileSync(fake.logFile, { flag: 'a+' }).toString()).not.toContain('job.analyze');
  });
});
