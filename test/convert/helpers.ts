// Shared pieces of the converter tests: fixture paths, temp folders, the native quantiser.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesRoot, requireFile } from '../helpers/paths.js';
import { loadEngineAddon } from '../../gpu-worker/engine-binding.js';
import { addonQuantizer, type Quantizer } from '../../electron/convert/quantizer.js';

export const FIXTURES = ['tiny-qwen2-a', 'tiny-qwen25vl-a'] as const;

export function hfDir(fixture: string): string {
  return requireFile(join(fixturesRoot, fixture, 'hf'), 'set KOTARO_FIXTURES to the shared fixtures folder');
}

export function llamacppFile(fixture: string, kind: 'model' | 'mmproj', type: string): string {
  return join(fixturesRoot, fixture, 'llamacpp', `${kind}-${type}.gguf`);
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `kotaro-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface QuantAddon {
  quantize(type: string, src: Float32Array, rowLength: number): Buffer;
  dequantize(type: string, src: Uint8Array, rowLength: number): Float32Array;
  typeInfo(type: string | number): { name: string; id: number; blockSize: number; typeSize: number; supported: boolean };
}

/** The engine addon (build/Release or KOTARO_ADDON_PATH); the tests fail when it is missing. */
export function quantAddon(): QuantAddon {
  return loadEngineAddon() as unknown as QuantAddon;
}

export function quantizer(): Quantizer {
  return addonQuantizer(loadEngineAddon());
}

export function f32Of(buf: Buffer): Float32Array {
  const copy = new Uint8Array(buf.length);
  copy.set(buf);
  return new Float32Array(copy.buffer);
}
