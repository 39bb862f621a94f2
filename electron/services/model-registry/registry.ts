// The model registry: every GGUF model on this machine that Kotaro could run — in the folders
// the user chose, in Ollama's store, in LM Studio's folders and in the Hugging Face cache —
// each paired with its vision projector, described (architecture, size, quantization, context
// length) and judged against the GPU: a VRAM estimate at the current context length and
// whether it fits the budget. Scans are cheap to repeat: a file's facts are cached by its real
// path, size and mtime. An entry's id is a hash of its files' real paths, so a model keeps its
// id (and stays selected) whichever folder it is found through.
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ServiceError } from '../service-error.js';
import type { EngineBuildInfo, ModelEntry, Settings } from '../../contract/bridge.js';
import { findGgufFiles, type FoundFile } from './folder-scan.js';
import { inspectModelFile, type ModelFileFacts } from './model-file.js';
import { readOllamaStore } from './ollama-store.js';
import { readLmStudioRoot, type LabelledFile } from './lmstudio-store.js';
import { readHfCache } from './hf-cache.js';
import { pairModels, pairOllama, type PairedModel } from './pairing.js';
import { storeRoots, type StoreRoots } from './store-roots.js';
import { estimateVram, maxContextThatFits, type VramEstimate } from './vram-estimate.js';

export type ModelSource = ModelEntry['source'];

/** A model as the registry holds it: the entry's facts plus what a load needs. */
export interface RegisteredModel {
  id: string;
  name: string;
  source: ModelSource;
  pair: PairedModel;
}

export interface Budget {
  /** Bytes the model may use on the GPU; null when it will run on the CPU or no GPU was found. */
  bytes: number | null;
  /** Where the figure comes from (shown with "won't fit" errors). */
  origin: string;
}

/** The VRAM budget the settings and the detected GPU give. */
export function resolveBudget(settings: Settings, engine: EngineBuildInfo | null): Budget {
  if (settings.backend === 'cpu') return { bytes: null, origin: 'the CPU backend is selected' };
  const gpu = engine?.cudaCompiled ? engine.gpus[0] : undefined;
  if (!gpu) return { bytes: null, origin: engine ? 'no CUDA GPU was detected' : 'the GPU worker has not reported yet' };
  if (settings.vramBudgetMB > 0) {
    const bytes = Math.min(settings.vramBudgetMB * 1024 * 1024, gpu.totalBytes);
    return { bytes, origin: `the VRAM budget of ${settings.vramBudgetMB} MB set in the settings` };
  }
  return { bytes: gpu.freeBytes, origin: `the free memory of ${gpu.name}` };
}

export interface Judgement {
  estimate: VramEstimate;
  budget: Budget;
  fits: boolean | null;
  maxContextFits: number | null;
}

export function judge(model: RegisteredModel, settings: Settings, engine: EngineBuildInfo | null): Judgement {
  const input = { text: model.pair.text, mmproj: model.pair.mmproj, maxImageSide: settings.maxImageSide };
  const estimate = estimateVram({ ...input, contextLength: settings.contextLength });
  const budget = resolveBudget(settings, engine);
  return {
    estimate,
    budget,
    fits: budget.bytes === null ? null : estimate.totalBytes <= budget.bytes,
    maxContextFits: budget.bytes === null || !model.pair.text.text ? null : maxContextThatFits(input, budget.bytes),
  };
}

export function toModelEntry(model: RegisteredModel, settings: Settings, engine: EngineBuildInfo | null): ModelEntry {
  const { text, mmproj } = model.pair;
  const j = judge(model, settings, engine);
  return {
    id: model.id,
    name: model.name,
    source: model.source,
    modelPath: text.path,
    mmprojPath: mmproj?.path ?? null,
    architecture: text.architecture,
    quantization: text.quantization,
    sizeBytes: text.sizeBytes + (mmproj?.sizeBytes ?? 0),
    contextLength: text.contextLength ?? 0,
    vramEstimateBytes: j.estimate.totalBytes,
    fits: j.fits,
    problem: model.pair.problem,
    vision: model.pair.vision,
    estimate: j.estimate,
    budgetBytes: j.budget.bytes,
    maxContextFits: j.maxContextFits,
  };
}

function modelId(text: string, mmproj: string | null): string {
  return 'm-' + createHash('sha256').update(`${text}\0${mmproj ?? ''}`).digest('hex').slice(0, 16);
}

const SOURCE_ORDER: ModelSource[] = ['folder', 'lmstudio', 'huggingface', 'ollama'];

export interface RegistryOptions {
  roots?: StoreRoots;
}

export class ModelRegistry extends EventEmitter<{ changed: [RegisteredModel[]] }> {
  private models: RegisteredModel[] = [];
  private scanned = false;
  private scanning: Promise<RegisteredModel[]> | null = null;
  private scanningKey: string | null = null;
  private readonly facts = new Map<string, ModelFileFacts & { realPath: string }>();
  private readonly registered = new Map<string, RegisteredModel>();
  /** Problems met while scanning stores (unreadable manifests, missing blobs), for docs and logs. */
  storeProblems: string[] = [];

  constructor(private readonly options: RegistryOptions = {}) {
    super();
  }

  get hasScanned(): boolean {
    return this.scanned;
  }

  list(): RegisteredModel[] {
    return [...this.models];
  }

  get(id: string): RegisteredModel | null {
    return this.models.find((m) => m.id === id) ?? null;
  }

  /**
   * Scans every source, one scan at a time: a call while a scan of the same folders runs shares
   * its result; a call with other folders (the user just added one) scans again after it.
   */
  scan(modelFolders: string[]): Promise<RegisteredModel[]> {
    const key = JSON.stringify(modelFolders);
    if (this.scanning && this.scanningKey === key) return this.scanning;
    const previous = this.scanning ?? Promise.resolve([]);
    const run = previous.catch(() => []).then(() => this.doScan(modelFolders));
    this.scanning = run;
    this.scanningKey = key;
    const clear = () => {
      if (this.scanning === run) {
        this.scanning = null;
        this.scanningKey = null;
      }
    };
    run.then(clear, clear);
    return run;
  }

  private async inspect(file: FoundFile): Promise<ModelFileFacts> {
    const key = file.realPath;
    const cached = this.facts.get(key);
    if (cached && cached.sizeBytes === file.sizeBytes && cached.mtimeMs === file.mtimeMs) return { ...cached, path: file.path };
    const facts = await inspectModelFile(file.path, file.sizeBytes, file.mtimeMs);
    this.facts.set(key, { ...facts, realPath: key });
    return facts;
  }

  private async foundFile(path: string): Promise<FoundFile | null> {
    try {
      const s = await stat(path);
      return { path, realPath: await realpath(path), sizeBytes: s.size, mtimeMs: s.mtimeMs };
    } catch {
      return null;
    }
  }

  private async fromLabelled(files: LabelledFile[], source: ModelSource): Promise<RegisteredModel[]> {
    const facts = await Promise.all(files.map((f) => this.inspect(f)));
    const labels = new Map(files.map((f) => [f.path, f.collection]));
    return pairModels(facts).map((pair) => ({
      id: '',
      name: pair.text.name ?? (labels.get(pair.text.path) || basename(pair.text.path, '.gguf')),
      source,
      pair,
    }));
  }

  /**
   * Registers one model given by path (the CLI's --model/--mmproj), outside the scanned folders;
   * without an mmproj, the projector beside the model is paired as in a scan. Kept across rescans.
   */
  async register(modelPath: string, mmprojPath: string | null = null): Promise<RegisteredModel> {
    const textFile = await this.foundFile(resolve(modelPath));
    if (!textFile) throw new ServiceError('MODEL_NOT_FOUND', `${modelPath}: no such model file`);
    const text = await this.inspect(textFile);
    let pair: PairedModel;
    let mmprojReal: string | null = null;
    if (mmprojPath) {
      const projFile = await this.foundFile(resolve(mmprojPath));
      if (!projFile) throw new ServiceError('MODEL_NOT_FOUND', `${mmprojPath}: no such projector file`);
      pair = pairOllama(text, await this.inspect(projFile));
      mmprojReal = projFile.realPath;
    } else {
      const siblings = (await findGgufFiles(dirname(textFile.path), { maxDepth: 0, maxEntries: 2_000 })).filter((f) => f.realPath !== textFile.realPath);
      const facts = await Promise.all(siblings.map((f) => this.inspect(f)));
      pair = pairModels([text, ...facts.filter((f) => f.role === 'mmproj')]).find((p) => p.text.path === text.path)
        ?? { text, mmproj: null, problem: text.readError ? `cannot read this file: ${text.readError.message}` : `not a model file (${text.architecture})`, vision: false };
      mmprojReal = pair.mmproj ? await realpath(pair.mmproj.path) : null;
    }
    const model: RegisteredModel = {
      id: modelId(textFile.realPath, mmprojReal),
      name: text.name ?? basename(text.path, '.gguf'),
      source: 'folder',
      pair,
    };
    this.registered.set(model.id, model);
    this.models = [...this.models.filter((m) => m.id !== model.id), model];
    this.emit('changed', this.list());
    return model;
  }

  private async doScan(modelFolders: string[]): Promise<RegisteredModel[]> {
    const roots = this.options.roots ?? storeRoots();
    const found: RegisteredModel[] = [];
    const problems: string[] = [];

    for (const folder of modelFolders) {
      const files = await findGgufFiles(folder);
      found.push(...(await this.fromLabelled(files.map((f) => ({ ...f, collection: '' })), 'folder')));
    }
    for (const root of roots.lmstudio) found.push(...(await this.fromLabelled(await readLmStudioRoot(root), 'lmstudio')));
    for (const root of roots.huggingface) found.push(...(await this.fromLabelled(await readHfCache(root), 'huggingface')));
    for (const root of roots.ollama) {
      const store = await readOllamaStore(root);
      problems.push(...store.problems);
      for (const m of store.models) {
        const modelFile = await this.foundFile(m.modelBlob);
        if (!modelFile) continue;
        const projectorFile = m.projectorBlob ? await this.foundFile(m.projectorBlob) : null;
        const text = await this.inspect(modelFile);
        const projector = projectorFile ? await this.inspect(projectorFile) : null;
        found.push({ id: '', name: m.name, source: 'ollama', pair: pairOllama(text, projector) });
      }
    }

    found.push(...this.registered.values());
    // One entry per (model file, projector file), whichever source found it first.
    found.sort((a, b) => SOURCE_ORDER.indexOf(a.source) - SOURCE_ORDER.indexOf(b.source));
    const byId = new Map<string, RegisteredModel>();
    for (const m of found) {
      const textReal = await realpath(m.pair.text.path).catch(() => m.pair.text.path);
      const mmprojReal = m.pair.mmproj ? await realpath(m.pair.mmproj.path).catch(() => m.pair.mmproj!.path) : null;
      const id = m.id || modelId(textReal, mmprojReal);
      if (!byId.has(id)) byId.set(id, { ...m, id });
    }
    this.models = [...byId.values()].sort((a, b) =>
      Number(a.pair.problem !== null) - Number(b.pair.problem !== null) || a.name.localeCompare(b.name) || a.pair.text.path.localeCompare(b.pair.text.path));
    this.storeProblems = problems;
    this.scanned = true;
    this.emit('changed', this.list());
    return this.list();
  }
}
