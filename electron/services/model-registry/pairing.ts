// Pairs each text model with its vision projector. The convention people follow (llama.cpp,
// LM Studio, Hugging Face repos): the mmproj GGUF lies in the same folder as the model. The
// metadata decides what a file is (general.type / architecture "clip"), not its name; among
// several projectors in one folder, the ones whose projection width equals the model's hidden
// size qualify, and the name closest to the model's (then the precision F16 > BF16 > Q8_0 > F32)
// wins. "Vision doesn't work" is the most reported problem of local VLM apps (reference §1.2):
// when a VL model has no usable projector, the entry says so instead of failing later.
import { basename, dirname } from 'node:path';
import { ENGINE_PROJECTORS, ENGINE_TEXT_ARCHITECTURES, type ModelFileFacts } from './model-file.js';

export interface PairedModel {
  text: ModelFileFacts;
  mmproj: ModelFileFacts | null;
  /** Why the engine cannot run it; null when it can. */
  problem: string | null;
  vision: boolean;
}

const SPLIT_PART = /-(\d{5})-of-(\d{5})\.gguf$/i;
const PRECISION_ORDER = ['F16', 'BF16', 'Q8_0', 'F32'];

function stem(path: string): string {
  return basename(path).toLowerCase().replace(/\.gguf$/, '').replace(/^mmproj[-_.]?/, '').replace(/[-_.](f16|bf16|f32|q8_0|q4_k_m|q\d\w*)$/, '');
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function precisionRank(facts: ModelFileFacts): number {
  const i = PRECISION_ORDER.indexOf(facts.quantization.toUpperCase());
  return i < 0 ? PRECISION_ORDER.length : i;
}

/** Picks the projector for `text` among the folder's projectors (null if none qualifies). */
export function pickProjector(text: ModelFileFacts, projectors: ModelFileFacts[]): ModelFileFacts | null {
  const width = text.text?.embeddingLength ?? null;
  const qualified = projectors.filter((p) => p.vision && (width === null || p.vision.projectionDim === null || p.vision.projectionDim === width));
  if (qualified.length === 0) return null;
  const name = stem(text.path);
  return [...qualified].sort((a, b) =>
    commonPrefix(stem(b.path), name) - commonPrefix(stem(a.path), name)
    || precisionRank(a) - precisionRank(b)
    || a.path.localeCompare(b.path),
  )[0]!;
}

function textProblem(text: ModelFileFacts, mmproj: ModelFileFacts | null, folderHasProjectors: boolean): string | null {
  if (text.readError) return `cannot read this file: ${text.readError.message}`;
  const split = SPLIT_PART.exec(text.path);
  if (split) return `split GGUF (part ${Number(split[1])} of ${Number(split[2])}): merge the parts into one file first (llama-gguf-split --merge)`;
  if (text.role === 'ollama-vl') {
    return `Ollama's own single-file layout (architecture ${text.architecture}, vision tower inside the file): Kotaro's engine reads the llama.cpp layout, ` +
      'a qwen2vl text GGUF plus a clip mmproj GGUF; the two differ in metadata keys (qwen25vl.* vs clip.vision.*, a 3-entry mrope_section vs ' +
      '4-entry dimension_sections, no image mean/std or projection width) and in vision tensor names (v.patch_embd_0/1, v.merger.* vs ' +
      'v.patch_embd.weight(.1), v.post_ln, mm.0/mm.2). Use the GGUF + mmproj pair of the same model instead (e.g. from Hugging Face)';
  }
  if (!(ENGINE_TEXT_ARCHITECTURES as readonly string[]).includes(text.architecture)) {
    return `architecture ${text.architecture} is not supported (Kotaro runs ${ENGINE_TEXT_ARCHITECTURES.join(' and ')})`;
  }
  if (text.unsupportedTensorTypes.length > 0) return `tensor types ${text.unsupportedTensorTypes.join(', ')} are not supported by the engine`;
  if (text.architecture === 'qwen2vl' && !mmproj) {
    return folderHasProjectors
      ? 'no vision projector in its folder matches it (the mmproj projection width differs from the model\'s hidden size)'
      : 'no vision projector (mmproj*.gguf) beside it: put the model\'s mmproj file in the same folder';
  }
  if (mmproj) {
    if (mmproj.readError) return `cannot read its projector ${basename(mmproj.path)}: ${mmproj.readError.message}`;
    const type = mmproj.vision?.projectorType ?? 'unknown';
    if (!(ENGINE_PROJECTORS as readonly string[]).includes(type)) {
      return `its projector ${basename(mmproj.path)} is of type ${type}; Kotaro runs ${ENGINE_PROJECTORS.join(', ')} (Qwen2.5-VL)`;
    }
    if (mmproj.unsupportedTensorTypes.length > 0) return `projector tensor types ${mmproj.unsupportedTensorTypes.join(', ')} are not supported by the engine`;
  }
  return null;
}

/** Groups files by folder and pairs models with projectors. Projectors alone are not models. */
export function pairModels(files: ModelFileFacts[]): PairedModel[] {
  const byFolder = new Map<string, ModelFileFacts[]>();
  for (const f of files) {
    const dir = dirname(f.path);
    byFolder.set(dir, [...(byFolder.get(dir) ?? []), f]);
  }
  const out: PairedModel[] = [];
  for (const group of byFolder.values()) {
    const projectors = group.filter((f) => f.role === 'mmproj');
    for (const f of group) {
      const split = SPLIT_PART.exec(f.path);
      if (split && Number(split[1]) !== 1) continue; // one entry per split model
      if (f.role === 'mmproj') continue;
      // An unreadable file named like a projector is a broken projector, not a model.
      if (f.readError && /^mmproj/i.test(basename(f.path))) continue;
      if (f.role === 'other' && !f.readError) continue; // e.g. an embedding or LoRA GGUF: not a model to list
      const mmproj = f.role === 'text' && f.architecture === 'qwen2vl' ? pickProjector(f, projectors) : null;
      out.push({
        text: f,
        mmproj,
        problem: textProblem(f, mmproj, projectors.length > 0),
        vision: mmproj !== null || f.role === 'ollama-vl',
      });
    }
  }
  return out;
}

/** Pairs an Ollama manifest's model blob with its projector blob (they do not share a folder by name). */
export function pairOllama(text: ModelFileFacts, projector: ModelFileFacts | null): PairedModel {
  const mmproj = text.role === 'text' && text.architecture === 'qwen2vl' ? projector : null;
  return { text, mmproj, problem: textProblem(text, mmproj, projector !== null), vision: mmproj !== null || text.role === 'ollama-vl' };
}
