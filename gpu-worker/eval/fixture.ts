// Reads a reference fixture (fixtures/<name>/refs/manifest.json, written from transformers'
// outputs; see fixtures/README.md): its cases, their prompt text and images, and their raw
// little-endian arrays, each checked against the shape the manifest states.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { s } from '../../electron/contract/schema.js';

export class FixtureError extends Error {
  readonly code = 'FIXTURE_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'FixtureError';
  }
}

const arraySpec = s.object({ file: s.string({ min: 1 }), dtype: s.enum(['f32', 'i32'] as const), shape: s.array(s.number({ int: true, min: 0 })) });
export type ArraySpec = { file: string; dtype: 'f32' | 'i32'; shape: number[] };

export interface FixtureCase {
  name: string;
  promptText: string;
  userPrompt: string;
  /** Absolute paths of the case's images, in prompt order. */
  images: string[];
  /** Arrays by short name (input_ids, logits, …). */
  arrays: Map<string, ArraySpec>;
  ropeDelta: number | null;
  greedyText: string | null;
}

export interface Fixture {
  name: string;
  kind: 'vl' | 'text';
  refsDir: string;
  /** The fixture's root (refs/..), where hf/, llamacpp/, images/ lie. */
  rootDir: string;
  cases: FixtureCase[];
  vocabSize: number;
  /** The image processor's pixel budget (GGUF files do not carry it). */
  minPixels: number | null;
  maxPixels: number | null;
}

export function loadFixture(manifestPath: string): Fixture {
  const path = resolve(manifestPath);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new FixtureError(`cannot read the manifest ${path}: ${(error as Error).message}`);
  }
  const top = s.object({
    name: s.string(),
    kind: s.enum(['vl', 'text'] as const),
    vocab_size: s.number({ int: true, min: 1 }),
    cases: s.record(s.unknown()),
    config: s.optional(s.object({ min_pixels: s.optional(s.number()), max_pixels: s.optional(s.number()) })),
  }).parse(raw, 'manifest');
  const refsDir = dirname(path);
  const rootDir = dirname(refsDir);
  const cases: FixtureCase[] = [];
  for (const [name, value] of Object.entries(top.cases)) {
    const c = s.object({
      prompt_text: s.string(),
      user_prompt: s.string(),
      images: s.array(s.string()),
      rope_delta: s.optional(s.number()),
      greedy_text: s.optional(s.string()),
    }).parse(value, `cases.${name}`);
    const arrays = new Map<string, ArraySpec>();
    for (const [key, spec] of Object.entries(value as Record<string, unknown>)) {
      if (!key.startsWith(`${name}.`)) continue;
      arrays.set(key.slice(name.length + 1), arraySpec.parse(spec, `cases.${name}.${key}`));
    }
    cases.push({
      name,
      promptText: c.prompt_text,
      userPrompt: c.user_prompt,
      images: c.images.map((f) => join(rootDir, 'images', f)),
      arrays,
      ropeDelta: c.rope_delta ?? null,
      greedyText: c.greedy_text ?? null,
    });
  }
  let minPixels = top.config?.min_pixels ?? null;
  let maxPixels = top.config?.max_pixels ?? null;
  const pre = join(rootDir, 'hf', 'preprocessor_config.json');
  if ((minPixels === null || maxPixels === null) && existsSync(pre)) {
    const p = JSON.parse(readFileSync(pre, 'utf8')) as { min_pixels?: number; max_pixels?: number; size?: { shortest_edge?: number; longest_edge?: number } };
    minPixels ??= p.min_pixels ?? p.size?.shortest_edge ?? null;
    maxPixels ??= p.max_pixels ?? p.size?.longest_edge ?? null;
  }
  return { name: top.name, kind: top.kind, refsDir, rootDir, cases, vocabSize: top.vocab_size, minPixels, maxPixels };
}

export interface LoadedArray<T extends Float32Array | Int32Array> {
  data: T;
  shape: number[];
}

/** Reads one array of a case, or null when the case has none of that name. */
export function readCaseArray(fixture: Fixture, c: FixtureCase, name: string): LoadedArray<Float32Array | Int32Array> | null {
  const spec = c.arrays.get(name);
  if (!spec) return null;
  const file = join(fixture.refsDir, spec.file);
  const bytes = readFileSync(file);
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * 4) throw new FixtureError(`${file}: ${bytes.length} bytes, the manifest's shape [${spec.shape}] needs ${count * 4}`);
  const copy = new Uint8Array(bytes).buffer; // aligned, owned
  return { data: spec.dtype === 'f32' ? new Float32Array(copy) : new Int32Array(copy), shape: spec.shape };
}

export function readF32(fixture: Fixture, c: FixtureCase, name: string): LoadedArray<Float32Array> | null {
  const a = readCaseArray(fixture, c, name);
  if (a && !(a.data instanceof Float32Array)) throw new FixtureError(`${c.name}.${name} is not f32`);
  return a as LoadedArray<Float32Array> | null;
}

export function readI32(fixture: Fixture, c: FixtureCase, name: string): LoadedArray<Int32Array> | null {
  const a = readCaseArray(fixture, c, name);
  if (a && !(a.data instanceof Int32Array)) throw new FixtureError(`${c.name}.${name} is not i32`);
  return a as LoadedArray<Int32Array> | null;
}
