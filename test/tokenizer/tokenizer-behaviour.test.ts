// The tokenizer's own rules: UTF-8-safe streaming, control tokens left out of user text,
// image placeholder expansion, and clear errors for vocabularies it cannot read.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ModelTokenizer, expandImagePads, readGgufVocab, tokenizerFilesOf, TokenizerError, ChatTemplate } from '../../gpu-worker/tokenizer/index.js';
import { BYTE_TO_CHAR, byteLevelBytes } from '../../gpu-worker/tokenizer/byte-level.js';
import { readGgufInfoSync } from '../../electron/gguf/index.js';
import { fixturesRoot } from '../helpers/paths.js';

const modelPath = join(fixturesRoot, 'tiny-qwen25vl-a', 'llamacpp', 'model-f32.gguf');
const tokenizer = ModelTokenizer.fromFile(modelPath);

describe('byte-level alphabet', () => {
  it('maps all 256 bytes to distinct characters and back', () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(BYTE_TO_CHAR[32]).toBe('Ġ');
    expect(BYTE_TO_CHAR[10]).toBe('Ċ');
    expect(Array.from(byteLevelBytes(BYTE_TO_CHAR.join(''))!)).toEqual([...Array(256).keys()]);
    // A character outside the alphabet: not a byte-level piece.
    expect(byteLevelBytes('日本')).toBeNull();
    expect(Array.from(byteLevelBytes('<|im_end|>')!)).toEqual(Array.from(Buffer.from('<|im_end|>')));
  });
});

describe('streaming decode', () => {
  const text = '今夜のDJイベント🎧について短い投稿を書いて。Numbers 0 1 2026 #hashtag';

  it('never emits a broken character, one token at a time', () => {
    const ids = tokenizer.encode(text);
    const stream = tokenizer.streamDecoder();
    const deltas: string[] = [];
    for (const id of ids) deltas.push(stream.push(id));
    deltas.push(stream.flush());
    expect(deltas.join('')).toBe(text);
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
    // Multi-byte characters really were split across tokens (or the test would prove nothing).
    expect(deltas.filter((d) => d === '').length).toBeGreaterThan(0);
  });

  it('leaves control tokens out of user-facing text unless asked', () => {
    const ids = tokenizer.encode('<|im_start|>assistant\nhello<|im_end|>');
    expect(ids[0]).toBe(657);
    expect(tokenizer.decode(ids)).toBe('assistant\nhello');
    expect(tokenizer.decode(ids, { keepSpecial: true })).toBe('<|im_start|>assistant\nhello<|im_end|>');
  });

  it('turns an unfinished character at the end into U+FFFD on flush, and refuses ids outside the vocabulary', () => {
    const ids = tokenizer.encode('🎧');
    const stream = tokenizer.streamDecoder();
    let out = '';
    for (const id of ids.subarray(0, ids.length - 1)) out += stream.push(id);
    expect(out + stream.flush()).toBe('\uFFFD');
    expect(() => tokenizer.decode([100000])).toThrow(TokenizerError);
    expect(() => tokenizer.decode([-1])).toThrow(/outside the vocabulary/);
  });

  it('decodes padding rows ([PAD…]) to nothing', () => {
    expect(tokenizer.decode([700, 701])).toBe('');
  });
});

describe('image placeholders', () => {
  it('expands each placeholder to its image\'s token count, in order', () => {
    const ids = Int32Array.from([1, 668, 2, 668, 3]);
    expect(Array.from(expandImagePads(ids, 668, [2, 3]))).toEqual([1, 668, 668, 2, 668, 668, 668, 3]);
  });
  it('refuses a count that does not match the placeholders', () => {
    expect(() => expandImagePads(Int32Array.from([668]), 668, [])).toThrow(/1 image placeholders for 0 images/);
    expect(() => expandImagePads(Int32Array.from([668]), 668, [0])).toThrow(/cannot take 0 tokens/);
  });
});

describe('vocabularies we cannot read', () => {
  const info = readGgufInfoSync(modelPath);
  it('refuses another tokenizer model or pre-tokenizer instead of guessing', () => {
    const vocab = readGgufVocab(info);
    expect(() => tokenizerFilesOf({ ...vocab, pre: 'llama-bpe' })).toThrow(/pre-tokenizer "llama-bpe"/);
    const other = { ...info, metadata: new Map(info.metadata) };
    other.metadata.set('tokenizer.ggml.model', 'llama');
    expect(() => readGgufVocab(other)).toThrow(/"llama" is not supported/);
    other.metadata.delete('tokenizer.ggml.model');
    expect(() => readGgufVocab(other)).toThrow(/no tokenizer/);
  });
  it('refuses token types that do not match the tokens, and merges that are not pairs', () => {
    const vocab = readGgufVocab(info);
    expect(() => tokenizerFilesOf({ ...vocab, merges: ['abc'] })).toThrow(/not "a b"/);
    const other = { ...info, metadata: new Map(info.metadata) };
    other.metadata.set('tokenizer.ggml.token_type', { kind: 'array', itemType: 'i32', length: 3, items: Int32Array.from([1, 1, 1]), truncated: false });
    expect(() => readGgufVocab(other)).toThrow(/3 entries for 704 tokens/);
  });
  it('reports a chat template that does not parse', () => {
    expect(() => new ChatTemplate('{% for %}')).toThrow(TokenizerError);
  });
});
