// GGUF metadata in plain Node (no addon): used by main's model registry to list and check model
// files, and by the worker to build the tokenizer and chat template from a model's own metadata.
export {
  readGgufInfo,
  readGgufInfoSync,
  readGgufFromSource,
  bufferSource,
  GgufError,
  GGUF_MAGIC,
  GGUF_DEFAULT_ALIGNMENT,
  type GgufInfo,
  type GgufTensorInfo,
  type GgufValue,
  type GgufArray,
  type GgufValueTypeName,
  type GgufErrorCode,
  type ReadOptions,
  type ByteSource,
} from './reader.js';
export { ggmlType, fileTypeName, type GgmlTypeInfo } from './ggml-types.js';
export {
  getString,
  getNumber,
  getBoolean,
  getArray,
  getStringArray,
  getIntArray,
  summarizeGguf,
  GgufKeyError,
  type GgufSummary,
} from './metadata.js';
