// Builds, in memory, the tokenizer.json (and tokenizer_config.json) that Hugging Face would
// ship for a GGUF's vocabulary, so @huggingface/tokenizers tokenizes exactly as transformers
// does: NFC, the pre-tokenizer's split regex, byte-level mapping, BPE over the merges, and the
// added tokens matched first, whole, before any of that.
import { TOKEN_TYPE, TokenizerError, type GgufVocab } from './gguf-vocab.js';

/** Qwen2's split regex as tokenizer.json writes it (llama.cpp's "qwen2" pre-tokenizer). */
export const QWEN2_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The pre-tokenizer regexes we know, by tokenizer.ggml.pre. Others are refused, not guessed. */
const splitRegexByPre: Record<string, string> = {
  qwen2: QWEN2_SPLIT_REGEX,
  'deepseek-r1-qwen': QWEN2_SPLIT_REGEX,
};

export interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

export function tokenizerFilesOf(vocab: GgufVocab): TokenizerFiles {
  const regex = splitRegexByPre[vocab.pre];
  if (!regex) throw new TokenizerError('TOKENIZER_UNSUPPORTED', `pre-tokenizer "${vocab.pre}" is not supported (qwen2 is)`);

  const modelVocab: Record<string, number> = Object.create(null) as Record<string, number>;
  const added: Array<Record<string, unknown>> = [];
  for (let id = 0; id < vocab.tokens.length; id++) {
    const text = vocab.tokens[id]!;
    const type = vocab.tokenTypes[id]!;
    if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.USER_DEFINED) {
      // Matched whole in the raw text (normalized: false), like Qwen's tokenizer.json.
      added.push({ id, content: text, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type === TOKEN_TYPE.CONTROL });
    } else if (type === TOKEN_TYPE.UNUSED) {
      // Padding rows ([PAD123]) exist only to fill the embedding matrix: never produced.
      continue;
    } else {
      if (text in modelVocab) throw new TokenizerError('TOKENIZER_MALFORMED', `token ${JSON.stringify(text)} appears twice (ids ${modelVocab[text]} and ${id})`);
      modelVocab[text] = id;
    }
  }
  for (const [i, merge] of vocab.merges.entries()) {
    const parts = merge.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new TokenizerError('TOKENIZER_MALFORMED', `merge #${i} ${JSON.stringify(merge)} is not "a b"`);
  }
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: modelVocab,
      merges: vocab.merges,
    },
  };
  const name = (id: number | null) => (id === null ? null : vocab.tokens[id]!);
  const tokenizerConfig = {
    add_bos_token: vocab.addBos,
    add_eos_token: false,
    bos_token: name(vocab.bosId),
    eos_token: name(vocab.eosId),
    pad_token: name(vocab.padId),
    unk_token: null,
    clean_up_tokenization_spaces: false,
    model_max_length: Number.MAX_SAFE_INTEGER,
  };
  return { tokenizerJson, tokenizerConfig };
}
