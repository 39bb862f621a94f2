// `kotaro eval`: runs a fixture, writes our arrays and a report, exits 0 when everything holds
// and non-zero when it does not.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { evalCommand } from '../../electron/cli/commands/eval.js';
import { main } from '../../electron/cli/index.js';
import { fixtureFiles, scratch, TEXT, VL } from './helpers.js';

const tmp = scratch('eval-cli');
afterAll(() => tmp.remove());

describe('kotaro eval', () => {
  it('dumps every array of every case and a JSON report, and passes on the F32 files', async () => {
    const f = fixtureFiles(VL);
    const files = f.llamacpp('f32');
    const dump = join(tmp.dir, 'vl');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const code = await evalCommand.run(['--model', files.model, '--mmproj', files.mmproj!, '--fixture', f.manifest, '--dump', dump, '--backend', 'cpu']);
    const printed = log.mock.calls.map((c) => String(c[0])).join('\n');
    log.mockRestore();
    expect(code).toBe(0);
    expect(printed).toMatch(/tokens identical, positions identical/);
    const report = JSON.parse(readFileSync(join(dump, 'report.json'), 'utf8'));
    expect(report.cases.map((c: { name: string }) => c.name)).toEqual(['describe_gradient', 'describe_ja_shapes', 'tags_wide', 'two_images', 'text_only']);
    const manifest = JSON.parse(readFileSync(f.manifest, 'utf8'));
    for (const c of report.cases as Array<{ name: string }>) {
      const spec = manifest.cases[c.name];
      for (const name of ['input_ids', 'logits', 'position_ids', 'greedy_tokens']) {
        const ref = spec[`${c.name}.${name}`];
        expect(statSync(join(dump, `${c.name}.${name}.${ref.dtype}`)).size, `${c.name}.${name}`).toBe(ref.shape.reduce((a: number, b: number) => a * b, 4));
      }
      const hasImages = spec.images.length > 0;
      expect(existsSync(join(dump, `${c.name}.pixel_values.f32`))).toBe(hasImages);
      expect(existsSync(join(dump, `${c.name}.vision_embeds.f32`))).toBe(hasImages);
    }
  });

  it('fails (exit 3) when the model does not match the fixture', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    // The text fixture's prompts through the VL model: same tokenizer, different weights.
    const code = await evalCommand.run(['--model', fixtureFiles(VL).llamacpp('f32').model, '--fixture', fixtureFiles(TEXT).manifest, '--case', 'post_en']);
    log.mockRestore();
    expect(code).toBe(3);
  });

  it('is registered in the CLI and refuses missing or bad options', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await main(['eval', '--fixture', 'x.json'])).toBe(1);
    expect(await main(['eval', '--model', 'm.gguf', '--fixture', 'x.json', '--backend', 'tpu'])).toBe(1);
    expect(await main(['eval', '--model', 'm.gguf', '--fixture', '/nonexistent/manifest.json'])).toBe(1);
    const messages = err.mock.calls.map((c) => String(c[0])).join('\n');
    err.mockRestore();
    expect(messages).toMatch(/--model is required/);
    expect(messages).toMatch(/--backend/);
    expect(messages).toMatch(/FIXTURE_INVALID/);
  });
});
