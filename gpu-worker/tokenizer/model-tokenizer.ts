// The tokenizer of a loaded model, built from the model file's own vocabulary (never from a
// tokenizer.json that might not match it): encode with @huggingface/tokenizers over the
// in-memory tokenizer.json (tokenizer-json.ts), decode through byte tables so streamed text is
// exact and UTF-8 safe (see StreamDecoder).
import { Tokenizer } from '@huggingface/tokenizers';
import { readGgufInfoSync, type GgufInfo } from '../../electron/gguf/index.js';
import { byteLevelBytes } from './byte-level.js';
import { readGgufVocab, TOKEN_TYPE, TokenizerError, type GgufVocab } from './gguf-vocab.js';
import { tokenizerFilesOf } from './tokenizer-json.js';

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

export interface SpecialTokens {
  imStart: number | null;
  imEnd: number | null;
  endOfText: number | null;
  visionStart: number | null;
  visionEnd: number | null;
  imagePad: number | null;
}

export class ModelTokenizer {
  readonly special: SpecialTokens;
  readonly vocabSize: number;
  readonly chatTemplate: string | null;
  readonly eosId: number | null;
  readonly bosId: number | null;
  private readonly tokenizer: Tokenizer;
  /** The bytes each id decodes to; CONTROL tokens separately, to skip them in user-facing text. */
  private readonly bytes: Uint8Array[];
  private readonly control: Uint8Array;

  constructor(private readonly vocab: GgufVocab) {
    const { tokenizerJson, tokenizerConfig } = tokenizerFilesOf(vocab);
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.vocabSize = vocab.tokens.length;
    this.chatTemplate = vocab.chatTemplate;
    this.eosId = vocab.eosId;
    this.bosId = vocab.bosId;
    this.control = new Uint8Array(vocab.tokens.length);
    this.bytes = vocab.tokens.map((text, id) => {
      const type = vocab.tokenTypes[id];
      if (type === TOKEN_TYPE.UNUSED) return EMPTY;
      if (type === TOKEN_TYPE.CONTROL) {
        this.control[id] = 1;
        return utf8.encode(text);
      }
      if (type === TOKEN_TYPE.USER_DEFINED) return utf8.encode(text);
      return byteLevelBytes(text) ?? utf8.encode(text);
    });
    const find = (text: string): number | null => {
      const id = vocab.tokens.indexOf(text);
      return id >= 0 ? id : null;
    };
    this.special = {
      imStart: find('<|im_start|>'),
      imEnd: find('<|im_end|>'),
      endOfText: find('<|endoftext|>'),
      visionStart: find('<|vision_start|>'),
      visionEnd: find('<|vision_end|>'),
      imagePad: find('<|image_pad|>'),
    };
  }

  static fromGguf(info: GgufInfo): ModelTokenizer {
    return new ModelTokenizer(readGgufVocab(info));
  }

  static fromFile(path: string): ModelTokenizer {
    return ModelTokenizer.fromGguf(readGgufInfoSync(path));
  }

  /** Token ids of `text`; added tokens written in the text (<|im_start|>, …) become their ids. */
  encode(text: string): Int32Array {
    const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const out = new Int32Array(ids.length + (this.vocab.addBos && this.vocab.bosId !== null ? 1 : 0));
    let k = 0;
    if (out.length > ids.length) out[k++] = this.vocab.bosId!;
    for (const id of ids) out[k++] = id;
    return out;
  }

  /** The text of `ids`; control tokens are left out unless `keepSpecial`. */
  decode(ids: ArrayLike<number>, options: { keepSpecial?: boolean } = {}): string {
    const decoder = this.streamDecoder(options);
    let text = '';
    for (let i = 0; i < ids.length; i++) text += decoder.push(ids[i]!);
    return text + decoder.flush();
  }

  /** Incremental decoding for streaming: never splits a UTF-8 character across deltas. */
  streamDecoder(options: { keepSpecial?: boolean } = {}): StreamDecoder {
    return new StreamDecoder((id) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.bytes.length) throw new TokenizerError('TOKENIZER_MALFORMED', `token id ${id} is outside the vocabulary`);
      return !options.keepSpecial && this.control[id] ? EMPTY : this.bytes[id]!;
    });
  }

  /** The id of a token's text, if the vocabulary has it. */
  tokenId(text: string): number | undefined {
    const id = this.vocab.tokens.indexOf(text);
    return id >= 0 ? id : undefined;
  }

  /** The vocabulary's string for an id (byte-level form for ordinary tokens). */
  tokenText(id: number): string | undefined {
    return this.vocab.tokens[id];
  }

  isControl(id: number): boolean {
    return this.control[id] === 1;
  }

  /** Tokens that end an assistant turn: eos, <|im_end|>, <|endoftext|>. */
  stopTokens(): number[] {
    const ids = [this.vocab.eosId, this.special.imEnd, this.special.endOfText].filter((x): x is number => x !== null);
    return [...new Set(ids)];
  }
}

/** Bytes in, text out: holds back an incomplete UTF-8 sequence until its last byte arrives. */
export class StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  constructor(private readonly bytesOf: (id: number) => Uint8Array) {}

  push(id: number): string {
    const bytes = this.bytesOf(id);
    return bytes.length === 0 ? '' : this.decoder.decode(bytes, { stream: true });
  }

  /** Whatever is held back (an unfinished sequence becomes U+FFFD). */
  flush(): string {
    return this.decoder.decode();
  }
}

/**
 * Expands each <|image_pad|> of a prompt (one per image, as the chat template writes it) to the
 * image's token count, as transformers' processor does before the model sees the ids.
 */
export function expandImagePads(ids: Int32Array, imagePad: number, tokensPerImage: number[]): Int32Array {
  let pads = 0;
  for (const id of ids) if (id === imagePad) pads++;
  if (pads !== tokensPerImage.length) {
    throw new TokenizerError('TOKENIZER_MALFORMED', `the prompt has ${pads} image placeholders for ${tokensPerImage.length} images`);
  }
  for (const n of tokensPerImage) {
    if (!Number.isInteger(n) || n < 1) throw new TokenizerError('TOKENIZER_MALFORMED', `an image cannot take ${n} tokens`);
  }
  const total = ids.length - pads + tokensPerImage.reduce((a, b) => a + b, 0);
  const out = new Int32Array(total);
  let k = 0;
  let image = 0;
  for (const id of ids) {
    if (id !== imagePad) {
      out[k++] = id;
      continue;
    }
    out.fill(imagePad, k, k + tokensPerImage[image]!);
    k += tokensPerImage[image++]!;
  }
  return out;
}
