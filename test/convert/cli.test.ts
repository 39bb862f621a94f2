// `kotaro convert` end to end through the CLI entry, and the progress output it prints.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../electron/cli/index.js';
import { createProgressReporter } from '../../electron/convert/progress-bar.js';
import type { ConvertProgress } from '../../electron/convert/index.js';
import { hfDir, llamacppFile, tempDir } from './helpers.js';

const tmp = tempDir('cli');
afterAll(() => tmp.remove());

describe('kotaro convert', () => {
  it('writes model.gguf and mmproj.gguf', async () => {
    const out = join(tmp.path, 'vl');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['convert', hfDir('tiny-qwen25vl-a'), '--out', out, '--type', 'q8_0'])).toBe(0);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    expect(readFileSync(join(out, 'model.gguf')).equals(readFileSync(llamacppFile('tiny-qwen25vl-a', 'model', 'q8_0')))).toBe(true);
    expect(readFileSync(join(out, 'mmproj.gguf')).equals(readFileSync(llamacppFile('tiny-qwen25vl-a', 'mmproj', 'q8_0')))).toBe(true);
  });

  it('rejects a bad --type and a missing --out with exit code 1 and a coded message', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['convert', hfDir('tiny-qwen2-a'), '--out', join(tmp.path, 'x'), '--type', 'q3_k_s'])).toBe(1);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/--type: one of f32, f16, bf16, q8_0, q4_k_m, q5_k_m, q6_k \[INVALID_ARGUMENT\]/);
      expect(await main(['convert', hfDir('tiny-qwen2-a')])).toBe(1);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/--out <dir> is required/);
      expect(await main(['convert', join(tmp.path, 'nowhere'), '--out', join(tmp.path, 'y')])).toBe(1);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/\[CHECKPOINT_MISSING\]/);
    } finally {
      err.mockRestore();
    }
  });
});

describe('progress output', () => {
  const step = (i: number, n: number, done: number): ConvertProgress => ({
    file: 'model.gguf', fileIndex: 0, fileCount: 1, tensorIndex: i, tensorCount: n, tensorName: `t${i}`, typeName: 'q8_0', bytesDone: done, bytesTotal: 1000,
  });

  it('writes plain lines when stderr is not a terminal', () => {
    const lines: string[] = [];
    const r = createProgressReporter({ isTTY: false, write: (s: string) => lines.push(s) });
    r.update(step(0, 2, 0));
    r.update(step(1, 2, 500));
    r.update(step(2, 2, 1000));
    r.finish();
    expect(lines).toEqual(['[  0%] model.gguf 1/2 t0 -> q8_0\n', '[ 50%] model.gguf 2/2 t1 -> q8_0\n', '[100%] model.gguf written\n']);
  });

  it('redraws one bar on a terminal', () => {
    const chunks: string[] = [];
    const r = createProgressReporter({ isTTY: true, columns: 100, write: (s: string) => chunks.push(s) });
    r.update(step(0, 2, 0));
    r.update(step(2, 2, 1000));
    r.finish();
    expect(chunks.every((c, i) => (i === chunks.length - 1 ? c === '\n' : c.startsWith('\r\x1b[2K[')))).toBe(true);
    expect(chunks.at(-2)).toContain('100% 1.0 KB/1.0 KB model.gguf written');
    expect(chunks.join('')).not.toContain('\n[');
  });
});
