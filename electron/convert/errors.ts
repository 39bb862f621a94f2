// Every failure of the converter is a ConvertError with a stable code, so the CLI and the UI
// can tell a truncated download from an unsupported model without parsing messages.

export type ConvertErrorCode =
  | 'INVALID_ARGUMENT' // bad options (unknown --type, missing paths)
  | 'CHECKPOINT_MISSING' // the folder lacks config.json / weights / tokenizer files
  | 'CHECKPOINT_UNSUPPORTED' // an architecture or tensor layout we do not convert
  | 'SAFETENSORS_MALFORMED' // a truncated or garbled .safetensors file, or a bad shard index
  | 'TOKENIZER_MALFORMED' // tokenizer.json / tokenizer_config.json we cannot use
  | 'CONFIG_MALFORMED' // config.json values missing or of the wrong kind
  | 'QUANTIZE_FAILED' // the native quantiser refused the data
  | 'ADDON_MISSING' // the engine addon (needed for quantisation) could not be loaded
  | 'FILE_IO' // reading or writing a file failed
  | 'CANCELLED';

export class ConvertError extends Error {
  readonly code: ConvertErrorCode;
  constructor(code: ConvertErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConvertError';
    this.code = code;
  }
}

export function fail(code: ConvertErrorCode, message: string): never {
  throw new ConvertError(code, message);
}
