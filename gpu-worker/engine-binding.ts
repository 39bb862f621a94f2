// The JS ↔ addon contract: the typed surface of build/Release/kotaro_engine.node, with the
// addon's results validated where they are received. The worker (and `kotaro eval`) are the
// only code that loads the addon (the GPU belongs to the worker).
//
// The addon's raw objects (native/addon/model_binding.cpp) are wrapped here: every result is
// checked (shape, typed-array kind, lengths) so a binding bug surfaces as a clear
// ENGINE_CONTRACT error at the boundary, not as a NaN three modules later.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineBuildInfo, type EngineBuildInfo } from '../electron/contract/bridge.js';
import { s, SchemaError, type Schema } from '../electron/contract/schema.js';
import { memoryReport, modelInfo, type MemoryReport, type ModelInfo } from './protocol.js';

export type { MemoryReport, ModelInfo };

export interface EngineAddon {
  buildInfo(): unknown;
  [name: string]: unknown;
}

/** Where the addon lies: next to the sources in development, in resources when packaged. */
export function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromEnv = process.env.KOTARO_ADDON_PATH;
  const resourcesPath = (process as unknown as { resourcesPath?: string }).resourcesPath;
  return [
    ...(fromEnv ? [resolve(fromEnv)] : []),
    // dist/gpu-worker/… and gpu-worker/… (vitest runs the sources) both sit two levels below the root
    join(here, '..', 'build', 'Release', 'kotaro_engine.node'),
    join(here, '..', '..', 'build', 'Release', 'kotaro_engine.node'),
    ...(resourcesPath ? [join(resourcesPath, 'native', 'kotaro_engine.node')] : []),
  ];
}

let cached: EngineAddon | null = null;

export function loadEngineAddon(): EngineAddon {
  if (cached) return cached;
  const path = addonCandidates().find((p) => existsSync(p));
  if (!path) {
    const error = new Error(`the engine addon was not found (looked in: ${addonCandidates().join(', ')}); run npm run build:native`);
    (error as Error & { code: string }).code = 'ADDON_MISSING';
    throw error;
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as EngineAddon;
  return cached;
}

export function engineBuildInfoOf(addon: EngineAddon): EngineBuildInfo {
  return engineBuildInfo.parse(addon.buildInfo(), 'buildInfo()');
}

// ---------------------------------------------------------------- contract errors

/** The addon answered something that breaks this contract (a bug, never bad user input). */
export class EngineContractError extends Error {
  readonly code = 'ENGINE_CONTRACT';
  constructor(message: string) {
    super(message);
    this.name = 'EngineContractError';
  }
}

function check<T>(schema: Schema<T>, value: unknown, what: string): T {
  try {
    return schema.parse(value, what);
  } catch (error) {
    if (error instanceof SchemaError) throw new EngineContractError(`the engine addon broke its contract: ${error.message}`);
    throw error;
  }
}

function float32(value: unknown, what: string, length?: number): Float32Array {
  if (!(value instanceof Float32Array)) throw new EngineContractError(`${what}: expected a Float32Array`);
  if (length !== undefined && value.length !== length) throw new EngineContractError(`${what}: expected ${length} values, got ${value.length}`);
  return value;
}

function int32(value: unknown, what: string, length?: number): Int32Array {
  if (!(value instanceof Int32Array)) throw new EngineContractError(`${what}: expected an Int32Array`);
  if (length !== undefined && value.length !== length) throw new EngineContractError(`${what}: expected ${length} values, got ${value.length}`);
  return value;
}

function fn(target: object, name: string): (...args: unknown[]) => unknown {
  const f = (target as Record<string, unknown>)[name];
  if (typeof f !== 'function') throw new EngineContractError(`the engine addon has no ${name}() (rebuild it: npm run build:native)`);
  return f as (...args: unknown[]) => unknown;
}

// ---------------------------------------------------------------- options and results

export interface LoadModelOptions {
  modelPath: string;
  mmprojPath?: string | null;
  backend?: 'auto' | 'cpu' | 'cuda';
  threads?: number;
  contextLength?: number;
  memoryBudgetBytes?: number;
  minPixels?: number;
  maxPixels?: number;
}

export interface SamplingOptions {
  /** <= 0: greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  stopTokens?: number[] | Int32Array;
}

export interface GenerateResult {
  tokens: Int32Array;
  /** 'stop': a stop token (the last of `tokens`); 'length': maxNewTokens; 'callback': onToken returned false; 'context': the KV cache is full. */
  stopReason: 'stop' | 'length' | 'callback' | 'context';
  /** From the call to the first sampled token (null when none was). */
  firstTokenMs: number | null;
  ms: number;
}

export interface PrefillResult {
  nPast: number;
  ms: number;
  /** [tokens, nVocab] with allLogits, [nVocab] with lastLogits. */
  logits?: Float32Array;
}

export interface PixelValues {
  gridT: number;
  gridH: number;
  gridW: number;
  /** [gridT*gridH*gridW, 3*2*14*14] in transformers' patch order. */
  pixels: Float32Array;
  ms: number;
}

/** An encoded image, held in engine memory until disposed (or garbage-collected). */
export interface EngineImage {
  readonly gridT: number;
  readonly gridH: number;
  readonly gridW: number;
  /** Merged tokens: the number of <|image_pad|> tokens this image takes in a prompt. */
  readonly nTokens: number;
  readonly nEmbd: number;
  readonly preprocessMs: number;
  readonly visionMs: number;
  /** A copy of the embeddings [nTokens, nEmbd]. */
  embeddings(): Float32Array;
  dispose(): void;
  /** The addon's own object (passed back to prefill). */
  readonly raw: object;
}

export interface EngineSession {
  prefill(tokens: Int32Array, images?: EngineImage[], options?: { allLogits?: boolean; lastLogits?: boolean }): Promise<PrefillResult>;
  /** Streams each sampled token to onToken (on the JS thread, in order, before the promise settles). */
  generate(options: GenerateOptions, onToken?: (token: number) => boolean | void): Promise<GenerateResult>;
  rewind(n: number): Promise<void>;
  /** M-RoPE positions of every token so far: [3][nPast] (t, h, w). */
  positionIds(): Promise<Int32Array>;
  lastLogits(): Promise<Float32Array>;
  nPast(): number;
  /** Cancels the running and queued calls of this session (they reject with code CANCELLED). */
  cancel(): void;
  dispose(): Promise<void>;
}

export interface EngineModel {
  readonly info: ModelInfo;
  memory(): MemoryReport;
  preprocessImage(rgb: Uint8Array, width: number, height: number): Promise<PixelValues>;
  encodeImage(rgb: Uint8Array, width: number, height: number): Promise<EngineImage>;
  encodePixels(pixels: Float32Array, grid: { gridT: number; gridH: number; gridW: number }): Promise<EngineImage>;
  createSession(): Promise<EngineSession>;
  /** Cancels running and queued image work (code CANCELLED). */
  cancel(): void;
  /** Frees the weights and every session; later calls fail. */
  unload(): Promise<void>;
}

const imageFields = s.object({
  gridT: s.number({ int: true, min: 1 }),
  gridH: s.number({ int: true, min: 1 }),
  gridW: s.number({ int: true, min: 1 }),
  nTokens: s.number({ int: true, min: 1 }),
  nEmbd: s.number({ int: true, min: 1 }),
  preprocessMs: s.number({ min: 0 }),
  visionMs: s.number({ min: 0 }),
});
const prefillFields = s.object({ nPast: s.number({ int: true, min: 0 }), ms: s.number({ min: 0 }) });
const generateFields = s.object({
  stopReason: s.enum(['stop', 'length', 'callback', 'context'] as const),
  firstTokenMs: s.nullable(s.number({ min: 0 })),
  ms: s.number({ min: 0 }),
});
const pixelFields = s.object({
  gridT: s.number({ int: true, min: 1 }),
  gridH: s.number({ int: true, min: 1 }),
  gridW: s.number({ int: true, min: 1 }),
  ms: s.number({ min: 0 }),
});

/** Patch vector length of Qwen2.5-VL's vision input: 3 channels × 2 frames × 14 × 14. */
export const PATCH_VALUES = 3 * 2 * 14 * 14;

function wrapImage(raw: object, info: ModelInfo): EngineImage {
  const f = check(imageFields, raw, 'image');
  const merge = info.visionMergeSize;
  if (f.nTokens !== (f.gridT * f.gridH * f.gridW) / (merge * merge)) {
    throw new EngineContractError(`image: ${f.nTokens} tokens for a ${f.gridT}x${f.gridH}x${f.gridW} grid`);
  }
  const embeddings = fn(raw, 'embeddings');
  const dispose = fn(raw, 'dispose');
  return {
    ...f,
    raw,
    embeddings: () => float32(embeddings(), 'image.embeddings()', f.nTokens * f.nEmbd),
    dispose: () => void dispose(),
  };
}

function wrapSession(raw: object, info: ModelInfo): EngineSession {
  const call = (name: string, ...args: unknown[]) => fn(raw, name)(...args);
  return {
    async prefill(tokens, images = [], options = {}) {
      const before = call('nPast') as number;
      const r = (await call('prefill', tokens, images.map((i) => i.raw), options)) as Record<string, unknown>;
      const f = check(prefillFields, r, 'prefill()');
      if (f.nPast !== before + tokens.length) throw new EngineContractError(`prefill(): nPast ${f.nPast} after ${before} + ${tokens.length} tokens`);
      const out: PrefillResult = { ...f };
      if (options.allLogits) out.logits = float32(r.logits, 'prefill().logits', tokens.length * info.nVocab);
      else if (options.lastLogits) out.logits = float32(r.logits, 'prefill().logits', info.nVocab);
      return out;
    },
    async generate(options, onToken) {
      const r = (await call('generate', options, onToken)) as Record<string, unknown>;
      const f = check(generateFields, r, 'generate()');
      const tokens = int32(r.tokens, 'generate().tokens');
      if (tokens.length > options.maxNewTokens) throw new EngineContractError(`generate(): ${tokens.length} tokens, more than maxNewTokens`);
      return { ...f, tokens };
    },
    async rewind(n) {
      await call('rewind', n);
    },
    async positionIds() {
      const n = call('nPast') as number;
      return int32(await call('positionIds'), 'positionIds()', 3 * n);
    },
    async lastLogits() {
      return float32(await call('lastLogits'), 'lastLogits()', info.nVocab);
    },
    nPast: () => check(s.number({ int: true, min: 0 }), call('nPast'), 'nPast()'),
    cancel: () => void call('cancel'),
    async dispose() {
      await call('dispose');
    },
  };
}

function wrapModel(raw: object): EngineModel {
  const call = (name: string, ...args: unknown[]) => fn(raw, name)(...args);
  const info = check(modelInfo, call('info'), 'info()');
  return {
    info,
    memory: () => check(memoryReport, call('memory'), 'memory()'),
    async preprocessImage(rgb, width, height) {
      const r = (await call('preprocessImage', rgb, width, height)) as Record<string, unknown>;
      const f = check(pixelFields, r, 'preprocessImage()');
      return { ...f, pixels: float32(r.pixels, 'preprocessImage().pixels', f.gridT * f.gridH * f.gridW * PATCH_VALUES) };
    },
    async encodeImage(rgb, width, height) {
      return wrapImage((await call('encodeImage', rgb, width, height)) as object, info);
    },
    async encodePixels(pixels, grid) {
      return wrapImage((await call('encodePixels', pixels, grid)) as object, info);
    },
    async createSession() {
      return wrapSession((await call('createSession')) as object, info);
    },
    cancel: () => void call('cancel'),
    async unload() {
      await call('unload');
    },
  };
}

/** Loads a model pair on its own engine thread; `onProgress` gets 0..1. */
export async function loadModel(addon: EngineAddon, options: LoadModelOptions, onProgress?: (progress: number) => void): Promise<EngineModel> {
  const load = fn(addon, 'loadModel');
  const opts = { ...options, mmprojPath: options.mmprojPath ?? undefined };
  const raw = (await load(opts, onProgress)) as object;
  return wrapModel(raw);
}
