// `kotaro convert <hf-dir> --out <dir> [--type …]`: a Hugging Face Qwen2 / Qwen2.5-VL
// checkpoint → GGUF files laid out as llama.cpp writes them (electron/convert/).
import { parseArgs } from 'node:util';
import { convertCheckpoint, OUT_TYPES, type OutType } from '../../convert/index.js';
import { createProgressReporter } from '../../convert/progress-bar.js';
import type { CliCommand } from '../command.js';

export const convertCommand: CliCommand = {
  name: 'convert',
  summary: 'convert a Hugging Face checkpoint folder to model.gguf (+ mmproj.gguf for Qwen2.5-VL)',
  usage: `kotaro convert <hf-dir> --out <dir> [--type ${OUT_TYPES.join('|')}]  (default type: f16)`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { out: { type: 'string', short: 'o' }, type: { type: 'string', short: 't' } },
    });
    if (positionals.length !== 1) throw Object.assign(new Error('give exactly one checkpoint folder'), { code: 'INVALID_ARGUMENT' });
    if (!values.out) throw Object.assign(new Error('--out <dir> is required'), { code: 'INVALID_ARGUMENT' });
    const type = (values.type ?? 'f16').toLowerCase();
    if (!(OUT_TYPES as readonly string[]).includes(type))
      throw Object.assign(new Error(`--type: one of ${OUT_TYPES.join(', ')}`), { code: 'INVALID_ARGUMENT' });
    const progress = createProgressReporter();
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    try {
      const result = await convertCheckpoint(
        { input: positionals[0]!, outDir: values.out, type: type as OutType, signal: controller.signal },
        (p) => progress.update(p),
      );
      progress.finish();
      for (const f of result.files) console.log(`${f.kind}: ${f.path} (${f.tensors.length} tensors)`);
      return 0;
    } finally {
      progress.finish();
      process.off('SIGINT', onSignal);
    }
  },
};
