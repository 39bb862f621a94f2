// Shared by the engine acceptance tests: fixture paths, the addon, and conversions into a
// temporary folder with the project's own converter.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonPath, fixturesRoot, requireFile } from '../helpers/paths.js';
import { loadEngineAddon, type EngineAddon } from '../../gpu-worker/engine-binding.js';
import { convertCheckpoint, type OutType } from '../../electron/convert/index.js';

export const VL = 'tiny-qwen25vl-a';
export const TEXT = 'tiny-qwen2-a';

export function fixtureFiles(name: string) {
  const root = join(fixturesRoot, name);
  return {
    root,
    hf: join(root, 'hf'),
    manifest: requireFile(join(root, 'refs', 'manifest.json'), 'set KOTARO_FIXTURES to the fixtures folder'),
    llamacpp: (type: 'f32' | 'f16' | 'q8_0') => ({
      model: join(root, 'llamacpp', `model-${type}.gguf`),
      mmproj: name === VL ? join(root, 'llamacpp', `mmproj-${type}.gguf`) : null,
    }),
  };
}

export function addon(): EngineAddon {
  requireFile(addonPath, 'run npm run build:native');
  return loadEngineAddon();
}

/** A scratch folder removed by the returned function. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `kotaro-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Converts a fixture's hf/ checkpoint with our converter; returns the model (and mmproj) paths. */
export async function convertFixture(name: string, type: OutType, outDir: string): Promise<{ model: string; mmproj: string | null }> {
  const result = await convertCheckpoint({ input: fixtureFiles(name).hf, outDir, type });
  const model = result.files.find((f) => f.kind === 'model')!.path;
  const mmproj = result.files.find((f) => f.kind === 'mmproj')?.path ?? null;
  return { model, mmproj };
}
