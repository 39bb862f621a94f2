// The tokenizer a GGUF carries (tokenizer.ggml.*), read into a plain structure and checked:
// llama.cpp's converter writes Qwen's byte-level BPE as tokens + token types + merges, with the
// added tokens (<|im_start|>, <|image_pad|>, …) as CONTROL/USER_DEFINED and padding rows as UNUSED.
import { getIntArray, getNumber, getString, getStringArray, type GgufInfo } from '../../electron/gguf/index.js';

export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export class TokenizerError extends Error {
  constructor(readonly code: 'TOKENIZER_UNSUPPORTED' | 'TOKENIZER_MALFORMED', message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

export interface GgufVocab {
  /** tokenizer.ggml.model: only "gpt2" (byte-level BPE) is read. */
  model: string;
  /** tokenizer.ggml.pre: "qwen2" selects the Qwen2 pre-tokenizer regex. */
  pre: string;
  tokens: string[];
  tokenTypes: ArrayLike<number>;
  merges: string[];
  bosId: number | null;
  eosId: number | null;
  padId: number | null;
  addBos: boolean;
  chatTemplate: string | null;
}

export function readGgufVocab(info: GgufInfo): GgufVocab {
  const model = getString(info, 'tokenizer.ggml.model', null);
  if (model === null) throw new TokenizerError('TOKENIZER_MALFORMED', 'the model file has no tokenizer (tokenizer.ggml.model)');
  if (model !== 'gpt2') throw new TokenizerError('TOKENIZER_UNSUPPORTED', `tokenizer model "${model}" is not supported (byte-level BPE "gpt2" is)`);
  const tokens = getStringArray(info, 'tokenizer.ggml.tokens');
  const tokenTypes = info.metadata.has('tokenizer.ggml.token_type') ? getIntArray(info, 'tokenizer.ggml.token_type') : new Array<number>(tokens.length).fill(TOKEN_TYPE.NORMAL);
  if (tokenTypes.length !== tokens.length) {
    throw new TokenizerError('TOKENIZER_MALFORMED', `tokenizer.ggml.token_type has ${tokenTypes.length} entries for ${tokens.length} tokens`);
  }
  const merges = getStringArray(info, 'tokenizer.ggml.merges');
  const id = (key: string): number | null => {
    const v = getNumber(info, key, null);
    if (v === null) return null;
    if (!Number.isInteger(v) || v < 0 || v >= tokens.length) throw new TokenizerError('TOKENIZER_MALFORMED', `${key} = ${v} is not a token id`);
    return v;
  };
  const addBos = info.metadata.get('tokenizer.ggml.add_bos_token');
  return {
    model,
    pre: getString(info, 'tokenizer.ggml.pre', 'default') ?? 'default',
    tokens,
    tokenTypes,
    merges,
    bosId: id('tokenizer.ggml.bos_token_id'),
    eosId: id('tokenizer.ggml.eos_token_id'),
    padId: id('tokenizer.ggml.padding_token_id'),
    addBos: addBos === true,
    chatTemplate: getString(info, 'tokenizer.chat_template', null),
  };
}
