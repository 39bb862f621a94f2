// What the registry knows about one GGUF file: its role (text model, vision projector, Ollama's
// single-file VL model), its shape (layers, heads, widths: what the VRAM estimate needs) and
// whether the engine can run it. Read with the GGUF reader from electron/gguf (metadata and
// tensor infos only, arrays cut to a few items: a vocabulary is not needed to list a file).
import { readGgufInfo, summarizeGguf, getNumber, getString, type GgufInfo } from '../../gguf/index.js';
import { errorCode, errorMessage } from '../service-error.js';

/** Text architectures the engine runs (native/include/kotaro/engine.h, ModelOptions). */
export const ENGINE_TEXT_ARCHITECTURES = ['qwen2vl', 'qwen2'] as const;
/** Vision projectors the engine runs. */
export const ENGINE_PROJECTORS = ['qwen2.5vl_merger'] as const;

export type ModelFileRole = 'text' | 'mmproj' | 'ollama-vl' | 'other';

export interface TextShape {
  blockCount: number;
  embeddingLength: number;
  feedForwardLength: number;
  headCount: number;
  headCountKv: number;
  headDim: number;
  vocabSize: number;
}

export interface VisionShape {
  blockCount: number;
  embeddingLength: number;
  feedForwardLength: number;
  headCount: number;
  patchSize: number;
  mergeSize: number;
  /** Width of the embeddings handed to the text model (must equal its embedding length). */
  projectionDim: number | null;
  projectorType: string | null;
}

export interface ModelFileFacts {
  path: string;
  sizeBytes: number;
  mtimeMs: number;
  role: ModelFileRole;
  architecture: string;
  name: string | null;
  quantization: string;
  tensorBytes: number;
  contextLength: number | null;
  text: TextShape | null;
  /** The vision tower: from an mmproj, or from inside an Ollama single-file model. */
  vision: VisionShape | null;
  unsupportedTensorTypes: string[];
  /** Set when the file could not be read at all (then only path and size are meaningful). */
  readError: { code: string; message: string } | null;
}

function num(info: GgufInfo, key: string): number | null {
  try {
    return getNumber(info, key, null);
  } catch {
    return null;
  }
}

function tensorDim(info: GgufInfo, name: string, dim: number): number | null {
  return info.tensors.find((t) => t.name === name)?.dims[dim] ?? null;
}

function textShape(info: GgufInfo, arch: string): TextShape | null {
  const blockCount = num(info, `${arch}.block_count`);
  const embeddingLength = num(info, `${arch}.embedding_length`);
  const headCount = num(info, `${arch}.attention.head_count`);
  if (!blockCount || !embeddingLength || !headCount) return null;
  const headCountKv = num(info, `${arch}.attention.head_count_kv`) ?? headCount;
  const headDim = num(info, `${arch}.attention.key_length`) ?? embeddingLength / headCount;
  return {
    blockCount,
    embeddingLength,
    feedForwardLength: num(info, `${arch}.feed_forward_length`) ?? tensorDim(info, 'blk.0.ffn_up.weight', 1) ?? embeddingLength * 4,
    headCount,
    headCountKv,
    headDim,
    vocabSize: tensorDim(info, 'token_embd.weight', 1) ?? 0,
  };
}

function clipVisionShape(info: GgufInfo): VisionShape | null {
  const blockCount = num(info, 'clip.vision.block_count');
  const embeddingLength = num(info, 'clip.vision.embedding_length');
  if (!blockCount || !embeddingLength) return null;
  return {
    blockCount,
    embeddingLength,
    feedForwardLength: num(info, 'clip.vision.feed_forward_length') ?? embeddingLength * 4,
    headCount: num(info, 'clip.vision.attention.head_count') ?? 16,
    patchSize: num(info, 'clip.vision.patch_size') ?? 14,
    mergeSize: num(info, 'clip.vision.spatial_merge_size') ?? 2,
    projectionDim: num(info, 'clip.vision.projection_dim'),
    projectorType: getString(info, 'clip.projector_type', null),
  };
}

/** Ollama's qwen25vl file keeps its vision tower under `qwen25vl.vision.*` (reference §D.1). */
function ollamaVisionShape(info: GgufInfo, arch: string): VisionShape | null {
  const blockCount = num(info, `${arch}.vision.block_count`);
  const embeddingLength = num(info, `${arch}.vision.embedding_length`);
  if (!blockCount || !embeddingLength) return null;
  return {
    blockCount,
    embeddingLength,
    feedForwardLength: tensorDim(info, 'v.blk.0.ffn_up.weight', 1) ?? embeddingLength * 4,
    headCount: num(info, `${arch}.vision.attention.head_count`) ?? 16,
    patchSize: num(info, `${arch}.vision.patch_size`) ?? 14,
    mergeSize: num(info, `${arch}.vision.spatial_merge_size`) ?? 2,
    projectionDim: num(info, `${arch}.embedding_length`),
    projectorType: null,
  };
}

export function factsFromInfo(path: string, info: GgufInfo, mtimeMs: number): ModelFileFacts {
  const summary = summarizeGguf(info);
  const arch = summary.architecture;
  const hasVisionTensors = info.tensors.some((t) => t.name.startsWith('v.'));
  let role: ModelFileRole;
  if (summary.kind === 'mmproj') role = 'mmproj';
  else if (hasVisionTensors && info.tensors.some((t) => t.name.startsWith('blk.'))) role = 'ollama-vl';
  else if (summary.kind === 'model' && textShape(info, arch)) role = 'text';
  else role = 'other';
  return {
    path,
    sizeBytes: summary.fileSize,
    mtimeMs,
    role,
    architecture: arch,
    name: summary.name,
    quantization: summary.quantization,
    tensorBytes: summary.tensorBytes,
    contextLength: summary.contextLength,
    text: role === 'text' || role === 'ollama-vl' ? textShape(info, arch) : null,
    vision: role === 'mmproj' ? clipVisionShape(info) : role === 'ollama-vl' ? ollamaVisionShape(info, arch) : null,
    unsupportedTensorTypes: summary.unsupportedTensorTypes,
    readError: null,
  };
}

/** Reads one file; an unreadable or malformed file gives facts with `readError` set, never a throw. */
export async function inspectModelFile(path: string, sizeBytes: number, mtimeMs: number): Promise<ModelFileFacts> {
  try {
    const info = await readGgufInfo(path, { maxArrayItems: 8 });
    return factsFromInfo(path, info, mtimeMs);
  } catch (error) {
    return {
      path,
      sizeBytes,
      mtimeMs,
      role: 'other',
      architecture: 'unknown',
      name: null,
      quantization: 'unknown',
      tensorBytes: 0,
      contextLength: null,
      text: null,
      vision: null,
      unsupportedTensorTypes: [],
      readError: { code: errorCode(error, 'GGUF_MALFORMED'), message: errorMessage(error) },
    };
  }
}
