// config.json (and preprocessor_config.json) of a checkpoint, reduced to what the GGUF files
// need. Handles both the transformers 4 layout (text fields at the top, rope_theta,
// rope_scaling.mrope_section) and the transformers 5 layout (text_config, rope_parameters).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConvertError, fail } from './errors.js';

export type ModelKind = 'qwen2' | 'qwen2vl';

export type Json = Record<string, unknown>;

export interface TextParams {
  kind: ModelKind;
  hfArch: string;
  blockCount: number;
  contextLength?: number;
  embeddingLength?: number;
  feedForwardLength?: number;
  headCount?: number;
  headCountKv?: number;
  ropeTheta?: number;
  rmsNormEps?: number;
  headDim?: number;
  /** qwen2vl only: mrope_section padded with zeros to 4. */
  ropeSections?: number[];
  /** rope_scaling of type yarn (Qwen2 long-context configs). */
  yarn?: { factor: number; originalContextLength?: number };
  vocabSize?: number;
  tieWordEmbeddings: boolean;
}

export interface VisionParams {
  imageSize: number;
  patchSize: number;
  hiddenSize: number;
  intermediateSize: number;
  depth: number;
  numHeads: number;
  /** The text model's hidden size (the projector's output width). */
  projectionDim: number;
  imageMean: number[];
  imageStd: number[];
  /** fullatt_block_indexes[0] + 1: every n-th layer uses full attention. */
  nWaPattern: number;
  layerNormEps: number;
  temporalPatchSize: number;
}

export interface HfConfig {
  raw: Json;
  text: TextParams;
  /** Present for Qwen2.5-VL checkpoints (which also get an mmproj file). */
  vision?: VisionParams;
}

const TEXT_ARCHS: Record<string, ModelKind> = {
  Qwen2ForCausalLM: 'qwen2',
  Qwen2_5_VLForConditionalGeneration: 'qwen2vl',
};

export async function readJson(path: string, missingCode: 'CHECKPOINT_MISSING' | 'TOKENIZER_MALFORMED' | 'CONFIG_MALFORMED'): Promise<Json> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConvertError(missingCode === 'CONFIG_MALFORMED' ? 'CHECKPOINT_MISSING' : missingCode,
      `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Json;
  } catch (error) {
    throw new ConvertError(missingCode === 'TOKENIZER_MALFORMED' ? 'TOKENIZER_MALFORMED' : 'CONFIG_MALFORMED',
      `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function num(obj: Json, key: string): number | undefined {
  const v = obj[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

/** First of `keys` present in `h` (llama.cpp's find_hparam). */
function findNum(h: Json, keys: string[]): number | undefined {
  for (const k of keys) if (k in h) {
    const v = num(h, k);
    if (v === undefined) fail('CONFIG_MALFORMED', `config.json: ${k} is not a number (${JSON.stringify(h[k])})`);
    return v;
  }
  return undefined;
}

function requireInt(h: Json, keys: string[], what: string): number {
  const v = findNum(h, keys);
  if (v === undefined || !Number.isInteger(v) || v <= 0) fail('CONFIG_MALFORMED', `config.json: ${what} (${keys.join(' / ')}) is missing or not a positive integer`);
  return v;
}

export async function loadHfConfig(dir: string): Promise<HfConfig> {
  const raw = await readJson(join(dir, 'config.json'), 'CONFIG_MALFORMED');
  const archs = raw.architectures;
  const hfArch = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : undefined;
  if (!hfArch) fail('CONFIG_MALFORMED', 'config.json has no "architectures" entry');
  const kind = TEXT_ARCHS[hfArch];
  if (!kind)
    fail('CHECKPOINT_UNSUPPORTED', `architecture ${hfArch} is not supported (Kotaro converts ${Object.keys(TEXT_ARCHS).join(', ')})`);

  // llama.cpp merges text_config over the top level for the text model
  const textConfig = obj(raw.text_config);
  const h: Json = textConfig ? { ...raw, ...textConfig } : { ...raw };
  const ropeParams = obj(h.rope_parameters) ?? obj(h.rope_scaling) ?? {};

  const text: TextParams = {
    kind,
    hfArch,
    blockCount: requireInt(h, ['n_layers', 'num_hidden_layers', 'n_layer', 'num_layers'], 'the layer count'),
    contextLength: findNum(h, ['max_position_embeddings', 'n_ctx', 'n_positions', 'max_length']),
    embeddingLength: findNum(h, ['hidden_size', 'n_embd', 'dim']),
    feedForwardLength: findNum(h, ['intermediate_size', 'n_inner', 'hidden_dim']),
    headCount: findNum(h, ['num_attention_heads', 'n_head', 'n_heads']),
    headCountKv: findNum(h, ['num_key_value_heads', 'n_kv_heads']),
    ropeTheta: num(h, 'rope_theta') ?? num(ropeParams, 'rope_theta'),
    rmsNormEps: findNum(h, ['rms_norm_eps', 'norm_eps']),
    headDim: num(h, 'head_dim'),
    vocabSize: num(h, 'vocab_size'),
    tieWordEmbeddings: h.tie_word_embeddings === true,
  };
  const ropeType = (ropeParams.rope_type ?? ropeParams.type) as unknown;
  if (ropeType === 'yarn') {
    const factor = num(ropeParams, 'factor');
    if (factor === undefined) fail('CONFIG_MALFORMED', 'config.json: yarn rope scaling without a factor');
    text.yarn = { factor, originalContextLength: num(ropeParams, 'original_max_position_embeddings') };
  }
  if (kind === 'qwen2vl') {
    const sections = ropeParams.mrope_section;
    if (!Array.isArray(sections) || sections.length === 0 || sections.length > 4 || !sections.every((s) => Number.isInteger(s) && s >= 0))
      fail('CONFIG_MALFORMED', `config.json: rope mrope_section ${JSON.stringify(sections)} is not a list of up to 4 integers`);
    text.ropeSections = [...(sections as number[]), 0, 0, 0, 0].slice(0, 4);
  }

  const config: HfConfig = { raw, text };
  if (hfArch === 'Qwen2_5_VLForConditionalGeneration') config.vision = await loadVision(dir, raw, h);
  return config;
}

async function loadVision(dir: string, raw: Json, textHparams: Json): Promise<VisionParams> {
  const v = obj(raw.vision_config);
  if (!v) fail('CONFIG_MALFORMED', 'config.json: a Qwen2.5-VL checkpoint without vision_config');
  const pre = await readJson(join(dir, 'preprocessor_config.json'), 'CONFIG_MALFORMED');
  const mean = pre.image_mean, std = pre.image_std;
  const isTriple = (a: unknown): a is number[] => Array.isArray(a) && a.length === 3 && a.every((x) => typeof x === 'number');
  if (!isTriple(mean) || !isTriple(std)) fail('CONFIG_MALFORMED', 'preprocessor_config.json: image_mean / image_std must be 3 numbers each');

  const full = v.fullatt_block_indexes;
  if (!Array.isArray(full) || full.length === 0 || !full.every((x) => Number.isInteger(x) && x >= 0))
    fail('CONFIG_MALFORMED', 'config.json: vision_config.fullatt_block_indexes is missing');
  // llama.cpp stores only a period: the full-attention layers must be evenly spaced
  const nWa = (full[0] as number) + 1;
  (full as number[]).forEach((idx, i) => {
    if (idx !== nWa * (i + 1) - 1)
      fail('CHECKPOINT_UNSUPPORTED', `vision full-attention layers ${JSON.stringify(full)} are not evenly spaced; llama.cpp's n_wa_pattern cannot express them`);
  });

  const temporal = num(v, 'temporal_patch_size') ?? 2;
  if (temporal !== 2) fail('CHECKPOINT_UNSUPPORTED', `vision temporal_patch_size ${temporal}: only 2 is supported (as in llama.cpp)`);
  const need = (keys: string[], what: string) => requireInt(v, keys, `vision_config ${what}`);
  return {
    imageSize: num(v, 'image_size') ?? 560,
    patchSize: need(['patch_size'], 'patch size'),
    hiddenSize: need(['hidden_size'], 'hidden size'),
    intermediateSize: need(['intermediate_size'], 'intermediate size'),
    depth: need(['depth', 'num_hidden_layers'], 'depth'),
    numHeads: need(['num_heads', 'num_attention_heads'], 'head count'),
    projectionDim: requireInt(textHparams, ['hidden_size', 'n_embd'], 'the text hidden size'),
    imageMean: mean,
    imageStd: std,
    nWaPattern: nWa,
    // llama.cpp reads rms_norm_eps from the top level of config.json, else 1e-6
    layerNormEps: num(raw, 'rms_norm_eps') ?? 1e-6,
    temporalPatchSize: temporal,
  };
}
