// tokenizer.* metadata for Qwen's byte-level BPE, as llama.cpp's _set_vocab_gpt2 and
// gguf-py's SpecialVocab write it:
//   tokenizer.ggml.model "gpt2", tokenizer.ggml.pre "qwen2", tokens (one per id up to
//   vocab_size, holes filled with "[PAD<id>]"), token_type (1 normal, 3 control,
//   4 user-defined, 5 unused), merges ("a b"), special ids (tokenizer_config.json's
//   <x>_token matched against added_tokens, then config.json's <x>_token_id), add_<x>_token
//   when tokenizer_config.json has that boolean, chat_template.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConvertError, fail } from './errors.js';
import type { GgufMetadata } from './gguf-writer.js';
import { readJson, type Json } from './hf-config.js';

const TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5;

/** The pre-tokenizer split of Qwen2 (and Qwen2.5): llama.cpp's LLAMA_VOCAB_PRE_TYPE_QWEN2. */
const QWEN2_PRETOKENIZER_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** SpecialVocab's order; it decides the order of the *_token_id keys. */
const SPECIAL_TYPES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const;
type SpecialType = (typeof SPECIAL_TYPES)[number];
const ID_KEYS: Record<SpecialType, string> = {
  bos: 'tokenizer.ggml.bos_token_id', eos: 'tokenizer.ggml.eos_token_id', unk: 'tokenizer.ggml.unknown_token_id',
  sep: 'tokenizer.ggml.seperator_token_id', // sic: llama.cpp's key spelling
  pad: 'tokenizer.ggml.padding_token_id', cls: 'tokenizer.ggml.cls_token_id', mask: 'tokenizer.ggml.mask_token_id',
};

interface AddedToken { id: number; content: string; special: boolean }

function looksSpecial(token: string): boolean {
  return token === '<pad>' || token === '<mask>' || token === '<2mass>' || token === '[@BOS@]' ||
    (token.startsWith('<|') && token.endsWith('|>')) || (token.startsWith('<｜') && token.endsWith('｜>')) ||
    (token.startsWith('<unused') && token.endsWith('>'));
}

async function exists(path: string): Promise<boolean> {
  try { await access(path); return true; } catch { return false; }
}

function checkQwen2PreTokenizer(tok: Json): void {
  const model = tok.model as Json | undefined;
  if (!model || model.type !== 'BPE')
    fail('TOKENIZER_MALFORMED', `tokenizer.json: model type ${JSON.stringify(model?.type)} is not the byte-level BPE Qwen uses`);
  const text = JSON.stringify(tok.pre_tokenizer ?? null);
  if (!text.includes('"ByteLevel"') || !text.includes(JSON.stringify(QWEN2_PRETOKENIZER_REGEX)))
    fail('TOKENIZER_MALFORMED', 'tokenizer.json: the pre-tokenizer is not Qwen2\'s byte-level split; only Qwen2 tokenizers are converted');
}

/** Appends the tokenizer keys for a checkpoint folder. `vocabSize` is config.json's vocab_size, if any. */
export async function addTokenizerMetadata(meta: GgufMetadata, dir: string, config: Json, vocabSize: number | undefined): Promise<void> {
  const tok = await readJson(join(dir, 'tokenizer.json'), 'TOKENIZER_MALFORMED');
  checkQwen2PreTokenizer(tok);
  const model = tok.model as Json;
  const vocab = model.vocab;
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) fail('TOKENIZER_MALFORMED', 'tokenizer.json: model.vocab is not an object');

  const byId = new Map<number, string>();
  for (const [piece, id] of Object.entries(vocab as Record<string, unknown>)) {
    if (!Number.isInteger(id) || (id as number) < 0) fail('TOKENIZER_MALFORMED', `tokenizer.json: token ${JSON.stringify(piece)} has id ${JSON.stringify(id)}`);
    byId.set(id as number, piece);
  }
  const added: AddedToken[] = [];
  const rawAdded = Array.isArray(tok.added_tokens) ? tok.added_tokens : [];
  for (const a of rawAdded as Json[]) {
    if (!Number.isInteger(a.id) || typeof a.content !== 'string') fail('TOKENIZER_MALFORMED', `tokenizer.json: bad added token ${JSON.stringify(a)}`);
    added.push({ id: a.id as number, content: a.content, special: a.special === true });
    byId.set(a.id as number, a.content);
  }
  const addedByContent = new Map(added.map((a) => [a.content, a]));
  let maxId = -1;
  for (const id of byId.keys()) if (id > maxId) maxId = id;
  const n = vocabSize ?? byId.size;
  if (maxId >= n) fail('TOKENIZER_MALFORMED', `tokenizer.json has token id ${maxId} but vocab_size is ${n}`);

  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < n; i++) {
    let token = byId.get(i);
    if (token === undefined) {
      tokens.push(`[PAD${i}]`);
      types.push(TOKEN_UNUSED);
      continue;
    }
    const a = addedByContent.get(token);
    if (a) {
      if (a.special || looksSpecial(token)) types.push(TOKEN_CONTROL);
      else {
        token = token.replaceAll('\u2581', ' '); // pre-normalised user-defined spaces, as llama.cpp
        types.push(TOKEN_USER_DEFINED);
      }
    } else {
      types.push(TOKEN_NORMAL);
    }
    tokens.push(token);
  }

  meta.add('tokenizer.ggml.model', { type: 'string', value: 'gpt2' });
  meta.add('tokenizer.ggml.pre', { type: 'string', value: 'qwen2' });
  meta.add('tokenizer.ggml.tokens', { type: 'array', elem: 'string', value: tokens });
  meta.add('tokenizer.ggml.token_type', { type: 'array', elem: 'i32', value: types });

  const merges = readMerges(model.merges);
  if (merges.length === 0) fail('TOKENIZER_MALFORMED', 'tokenizer.json has no BPE merges (llama.cpp cannot load a gpt2 vocabulary without them)');
  meta.add('tokenizer.ggml.merges', { type: 'array', elem: 'string', value: merges });

  const tcPath = join(dir, 'tokenizer_config.json');
  const tc = (await exists(tcPath)) ? await readJson(tcPath, 'TOKENIZER_MALFORMED') : undefined;
  const ids = new Map<SpecialType, number>();
  const adds = new Map<SpecialType, boolean>();
  const setId = (typ: SpecialType, id: unknown) => {
    if (!Number.isInteger(id) || (id as number) < 0 || ids.has(typ)) return;
    ids.set(typ, id as number);
  };
  if (tc) {
    let bos = tc.bos_token, eos = tc.eos_token;
    if (!bos && tc.cls_token) bos = tc.cls_token;
    if (!eos && tc.sep_token) eos = tc.sep_token;
    const entryOf = (typ: SpecialType): unknown => (typ === 'bos' ? bos : typ === 'eos' ? eos : tc[`${typ}_token`]);
    for (const typ of SPECIAL_TYPES) {
      const add = tc[`add_${typ}_token`];
      if (typeof add === 'boolean') adds.set(typ, add);
      const entry = entryOf(typ);
      const content = typeof entry === 'string' ? entry
        : typeof entry === 'object' && entry !== null && typeof (entry as Json).content === 'string' ? (entry as Json).content as string
        : undefined;
      if (content === undefined) continue;
      setId(typ, added.find((a) => a.content === content)?.id);
    }
  }
  const textConfig = (typeof config.text_config === 'object' && config.text_config !== null ? config.text_config : {}) as Json;
  for (const typ of SPECIAL_TYPES) setId(typ, config[`${typ}_token_id`] ?? textConfig[`${typ}_token_id`]);
  for (const [typ, id] of ids) meta.add(ID_KEYS[typ], { type: 'u32', value: id });
  for (const [typ, add] of adds) meta.add(`tokenizer.ggml.add_${typ}_token`, { type: 'bool', value: add });

  const template = tc ? await chatTemplate(dir, tc) : undefined;
  if (template !== undefined) meta.add('tokenizer.chat_template', { type: 'string', value: template });
}

function readMerges(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0) return [];
  if (typeof raw[0] === 'string') {
    if (!raw.every((m) => typeof m === 'string')) fail('TOKENIZER_MALFORMED', 'tokenizer.json: mixed merge formats');
    return raw as string[];
  }
  // transformers >= 4.45 stores pairs; llama.cpp joins them, spelling spaces inside a piece as U+0120
  return raw.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((p) => typeof p === 'string'))
      fail('TOKENIZER_MALFORMED', `tokenizer.json: merge ${JSON.stringify(pair)} is not a pair of strings`);
    return (pair as string[]).map((part) => part.replaceAll(' ', '\u0120')).join(' ');
  });
}

/** tokenizer_config.json's chat_template wins; else chat_template.jinja, else chat_template.json. */
async function chatTemplate(dir: string, tc: Json): Promise<string | undefined> {
  const fromConfig = tc.chat_template;
  if (typeof fromConfig === 'string') return fromConfig;
  if ('chat_template' in tc && !Array.isArray(fromConfig)) return undefined; // explicitly null
  if (Array.isArray(fromConfig)) {
    // named templates: llama.cpp writes the "default" one as tokenizer.chat_template
    const def = (fromConfig as Json[]).find((t) => t?.name === 'default');
    return typeof def?.template === 'string' ? def.template : undefined;
  }
  const jinja = join(dir, 'chat_template.jinja');
  if (await exists(jinja)) {
    try {
      return await readFile(jinja, 'utf8');
    } catch (error) {
      throw new ConvertError('FILE_IO', `cannot read ${jinja}: ${(error as Error).message}`, { cause: error });
    }
  }
  const json = join(dir, 'chat_template.json');
  if (await exists(json)) {
    const t = (await readJson(json, 'TOKENIZER_MALFORMED')).chat_template;
    if (typeof t === 'string') return t;
  }
  return undefined;
}
