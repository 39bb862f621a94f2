// Typed access to GGUF metadata and a summary of what a file is (for the model registry and the
// worker). A missing key or a key of another type is a GgufError with code MODEL_MISMATCH-like
// meaning: the file is valid GGUF, it is just not what the caller expected.
import { GgufError, type GgufArray, type GgufInfo, type GgufValue } from './reader.js';
import { fileTypeName } from './ggml-types.js';

export class GgufKeyError extends Error {
  readonly code = 'MODEL_MISMATCH';
  constructor(message: string) {
    super(message);
    this.name = 'GgufKeyError';
  }
}

function need(info: GgufInfo, key: string): GgufValue {
  const v = info.metadata.get(key);
  if (v === undefined) throw new GgufKeyError(`the file has no metadata key "${key}"`);
  return v;
}

export function getString(info: GgufInfo, key: string): string;
export function getString(info: GgufInfo, key: string, fallback: string | null): string | null;
export function getString(info: GgufInfo, key: string, fallback?: string | null): string | null {
  if (fallback !== undefined && !info.metadata.has(key)) return fallback;
  const v = need(info, key);
  if (typeof v !== 'string') throw new GgufKeyError(`"${key}" is a ${info.metadataTypes.get(key)}, not a string`);
  return v;
}

/** Any numeric key (integers or floats) as a JS number. */
export function getNumber(info: GgufInfo, key: string): number;
export function getNumber(info: GgufInfo, key: string, fallback: number | null): number | null;
export function getNumber(info: GgufInfo, key: string, fallback?: number | null): number | null {
  if (fallback !== undefined && !info.metadata.has(key)) return fallback;
  const v = need(info, key);
  if (typeof v !== 'number') throw new GgufKeyError(`"${key}" is a ${info.metadataTypes.get(key)}, not a number`);
  return v;
}

export function getBoolean(info: GgufInfo, key: string, fallback: boolean): boolean {
  if (!info.metadata.has(key)) return fallback;
  const v = need(info, key);
  if (typeof v !== 'boolean') throw new GgufKeyError(`"${key}" is a ${info.metadataTypes.get(key)}, not a bool`);
  return v;
}

export function getArray(info: GgufInfo, key: string): GgufArray {
  const v = need(info, key);
  if (typeof v !== 'object' || v.kind !== 'array') throw new GgufKeyError(`"${key}" is a ${info.metadataTypes.get(key)}, not an array`);
  return v;
}

/** A whole array of strings (refuses a truncated one: read with the default maxArrayItems). */
export function getStringArray(info: GgufInfo, key: string): string[] {
  const a = getArray(info, key);
  if (a.itemType !== 'string') throw new GgufKeyError(`"${key}" is an array of ${a.itemType}, not of strings`);
  if (a.truncated) throw new GgufKeyError(`"${key}" was read truncated (${a.items.length} of ${a.length} items)`);
  return a.items as string[];
}

/** A whole array of integers (any integer item type) as an Int32Array/number[] view. */
export function getIntArray(info: GgufInfo, key: string): ArrayLike<number> {
  const a = getArray(info, key);
  if (!['u8', 'i8', 'u16', 'i16', 'u32', 'i32'].includes(a.itemType)) throw new GgufKeyError(`"${key}" is an array of ${a.itemType}, not of 32-bit integers`);
  if (a.truncated) throw new GgufKeyError(`"${key}" was read truncated (${a.items.length} of ${a.length} items)`);
  return a.items as ArrayLike<number>;
}

export interface GgufSummary {
  /** general.architecture: "qwen2vl", "qwen2", "clip", … */
  architecture: string;
  /** general.type when present ("model" | "mmproj"), else inferred from the architecture. */
  kind: 'model' | 'mmproj' | 'other';
  name: string | null;
  /** "Q4_K_M" from general.file_type, else the dominant tensor type. */
  quantization: string;
  /** The tensor type holding the most bytes. */
  dominantTensorType: string;
  /** <arch>.context_length, when the file has one. */
  contextLength: number | null;
  /** clip.projector_type for an mmproj. */
  projectorType: string | null;
  parameterCount: number;
  tensorBytes: number;
  fileSize: number;
  hasChatTemplate: boolean;
  /** Tensor types the engine cannot run, if any. */
  unsupportedTensorTypes: string[];
}

export function summarizeGguf(info: GgufInfo): GgufSummary {
  const architecture = getString(info, 'general.architecture', null);
  if (architecture === null) throw new GgufError('GGUF_MALFORMED', 'the file has no general.architecture');
  const generalType = getString(info, 'general.type', null);
  const kind = generalType === 'mmproj' || architecture === 'clip' ? 'mmproj' : generalType === 'model' || generalType === null ? 'model' : 'other';
  const bytesByType = new Map<string, number>();
  const unsupported = new Set<string>();
  let parameterCount = 0;
  let tensorBytes = 0;
  for (const t of info.tensors) {
    bytesByType.set(t.type.name, (bytesByType.get(t.type.name) ?? 0) + t.bytes);
    if (!t.type.engineSupported) unsupported.add(t.type.name);
    parameterCount += t.elements;
    tensorBytes += t.bytes;
  }
  let dominant = 'none';
  let most = -1;
  for (const [name, bytes] of bytesByType) if (bytes > most) [dominant, most] = [name, bytes];
  const fileType = info.metadataTypes.get('general.file_type') ? getNumber(info, 'general.file_type', null) : null;
  const contextLength = info.metadata.get(`${architecture}.context_length`);
  return {
    architecture,
    kind,
    name: getString(info, 'general.name', null),
    quantization: (fileType !== null ? fileTypeName(fileType) : undefined) ?? dominant,
    dominantTensorType: dominant,
    contextLength: typeof contextLength === 'number' ? contextLength : null,
    projectorType: getString(info, 'clip.projector_type', null),
    parameterCount,
    tensorBytes,
    fileSize: info.fileSize,
    hasChatTemplate: info.metadata.has('tokenizer.chat_template'),
    unsupportedTensorTypes: [...unsupported].sort(),
  };
}
