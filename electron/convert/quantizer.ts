// The converter's access to the engine's native quantisers (native/addon/quant_binding.cpp):
// rows of float32 in, ggml blocks out, on the libuv thread pool. Injected into
// convertCheckpoint so tests and other hosts can supply their own loading.
import { ConvertError } from './errors.js';
import { loadEngineAddon } from '../../gpu-worker/engine-binding.js';

export interface Quantizer {
  /** src holds whole rows of rowLength elements; resolves with their blocks. */
  quantize(typeName: string, src: Float32Array, rowLength: number): Promise<Uint8Array>;
}

interface QuantAddon {
  quantizeAsync(typeName: string, src: Float32Array, rowLength: number): Promise<Uint8Array>;
}

/** Wraps an addon object that exports quantizeAsync (the engine addon). */
export function addonQuantizer(addon: unknown): Quantizer {
  const q = addon as Partial<QuantAddon>;
  if (typeof q?.quantizeAsync !== 'function')
    throw new ConvertError('ADDON_MISSING', 'the engine addon has no quantizeAsync(); rebuild it (npm run build:native)');
  return {
    async quantize(typeName, src, rowLength) {
      try {
        return await q.quantizeAsync!(typeName, src, rowLength);
      } catch (error) {
        const code = (error as { code?: string }).code;
        throw new ConvertError('QUANTIZE_FAILED', `quantising to ${typeName} failed: ${(error as Error).message}${code ? ` [${code}]` : ''}`, { cause: error });
      }
    },
  };
}

/** The engine addon found where the GPU worker finds it (KOTARO_ADDON_PATH, build/Release, resources). */
export function defaultQuantizer(): Quantizer {
  let addon: unknown;
  try {
    addon = loadEngineAddon();
  } catch (error) {
    throw new ConvertError('ADDON_MISSING', `quantisation needs the engine addon: ${(error as Error).message}`, { cause: error });
  }
  return addonQuantizer(addon);
}
