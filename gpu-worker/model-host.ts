// The loaded model pair and what the worker builds from it: the engine model, one session
// (one KV cache: one job at a time), the tokenizer and the chat template from the text GGUF.
import { readGgufInfoSync } from '../electron/gguf/index.js';
import { loadModel, type EngineAddon, type EngineModel, type EngineSession } from './engine-binding.js';
import type { ModelLoadOptions } from './protocol.js';
import { ChatTemplate, ModelTokenizer } from './tokenizer/index.js';

export class LoadedModel {
  private session: EngineSession | null = null;

  private constructor(
    readonly options: ModelLoadOptions,
    readonly engine: EngineModel,
    readonly tokenizer: ModelTokenizer,
    readonly template: ChatTemplate,
    readonly loadMs: number,
  ) {}

  static async load(addon: EngineAddon, options: ModelLoadOptions, onProgress: (p: number) => void): Promise<LoadedModel> {
    const t0 = performance.now();
    // The tokenizer first: a file without one fails fast, before weights are read.
    const info = readGgufInfoSync(options.modelPath);
    const tokenizer = ModelTokenizer.fromGguf(info);
    if (!tokenizer.chatTemplate) {
      throw Object.assign(new Error(`${options.modelPath} has no chat template (tokenizer.chat_template)`), { code: 'MODEL_MISMATCH' });
    }
    const template = new ChatTemplate(tokenizer.chatTemplate, {
      bos: tokenizer.bosId === null ? null : tokenizer.tokenText(tokenizer.bosId),
      eos: tokenizer.eosId === null ? null : tokenizer.tokenText(tokenizer.eosId),
    });
    const engine = await loadModel(
      addon,
      {
        modelPath: options.modelPath,
        mmprojPath: options.mmprojPath,
        backend: options.backend,
        contextLength: options.contextLength,
        memoryBudgetBytes: options.memoryBudgetBytes,
        ...(options.threads ? { threads: options.threads } : {}),
        ...(options.minPixels ? { minPixels: options.minPixels } : {}),
        ...(options.maxPixels ? { maxPixels: options.maxPixels } : {}),
      },
      onProgress,
    );
    if (engine.info.nVocab < tokenizer.vocabSize) {
      await engine.unload();
      throw Object.assign(new Error(`the model has ${engine.info.nVocab} embedding rows for ${tokenizer.vocabSize} tokens`), { code: 'MODEL_MISMATCH' });
    }
    return new LoadedModel(options, engine, tokenizer, template, performance.now() - t0);
  }

  /** The model's one session, created on first use. */
  async getSession(): Promise<EngineSession> {
    this.session ??= await this.engine.createSession();
    return this.session;
  }

  /** Cancels whatever the engine is doing for this model (image work and the session). */
  cancel(): void {
    this.engine.cancel();
    this.session?.cancel();
  }

  async unload(): Promise<void> {
    this.cancel();
    this.session = null;
    await this.engine.unload();
  }
}
