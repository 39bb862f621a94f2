// Which model the worker holds, and getting the right one there. A load is refused before it
// starts when the registry already knows it cannot work (no projector, unsupported type) or
// will not fit the VRAM budget (MODEL_TOO_LARGE with the numbers and what to change). Jobs ask
// for `ensureLoaded()`: the selected model, loaded with the current settings (a changed context
// length or budget reloads it). After a worker crash the model is gone; the next job loads it
// again — unless the crash happened during the load of that same configuration, in which case
// jobs fail fast with MODEL_LOAD_CRASHED instead of crashing the worker once per image; an
// explicit models.load (or a settings change) tries again.
import { EventEmitter } from 'node:events';
import type { ModelStatus, Settings } from '../contract/bridge.js';
import { type WorkerSupervisor, WorkerError } from '../worker-host/supervisor.js';
import type { ModelRegistry, RegisteredModel } from './model-registry/index.js';
import { formatBytes, judge } from './model-registry/index.js';
import type { RunContext } from './job-runner.js';
import { ServiceError, errorCode, errorMessage } from './service-error.js';

export interface ModelManagerOptions {
  worker: WorkerSupervisor;
  registry: ModelRegistry;
  settings: () => Settings;
  /** Scans when a model id is not known yet (first use after start). */
  rescan: () => Promise<unknown>;
}

/** What a loaded model was loaded with: a different key needs a reload. */
function loadKey(model: RegisteredModel, settings: Settings): string {
  return JSON.stringify([model.id, settings.contextLength, settings.backend, settings.vramBudgetMB]);
}

export class ModelManager extends EventEmitter<{ status: [ModelStatus] }> {
  private status: ModelStatus = { state: 'unloaded', modelId: null, progress: 0, backend: null, error: null };
  private loadedKey: string | null = null;
  private crashedKey: string | null = null;
  private loadRequestId = 0;
  /** Loads and unloads run one after another. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ModelManagerOptions) {
    super();
    const { worker } = options;
    worker.on('crash', ({ cause }) => {
      if (this.status.state === 'unloaded' && this.loadedKey === null) return;
      this.loadedKey = null;
      this.setStatus({ state: 'unloaded', progress: 0, error: `the GPU worker stopped (${cause}); the model will be loaded again for the next image` });
    });
    worker.on('message', (message) => {
      if (message.type === 'model.progress' && this.status.state === 'loading' && message.modelId === this.status.modelId) {
        this.setStatus({ progress: message.progress });
      } else if (message.type === 'model.unloaded' && message.modelId === this.status.modelId && message.reason === 'idle') {
        this.loadedKey = null;
        this.setStatus({ state: 'unloaded', progress: 0, error: null });
      }
    });
  }

  getStatus(): ModelStatus {
    return { ...this.status };
  }

  private setStatus(patch: Partial<ModelStatus>): void {
    this.status = { ...this.status, ...patch };
    this.emit('status', this.getStatus());
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async resolve(modelId: string): Promise<RegisteredModel> {
    let model = this.options.registry.get(modelId);
    if (!model) {
      await this.options.rescan();
      model = this.options.registry.get(modelId);
    }
    if (!model) throw new ServiceError('MODEL_NOT_FOUND', `no model ${modelId} (was its file moved? rescan the models)`);
    return model;
  }

  /** Throws the reason this model cannot be loaded with these settings, if there is one. */
  check(model: RegisteredModel, settings: Settings): void {
    if (model.pair.problem) throw new ServiceError('MODEL_UNUSABLE', `${model.name}: ${model.pair.problem}`);
    const j = judge(model, settings, this.options.worker.engine);
    if (j.fits === false) {
      const hint = j.maxContextFits && j.maxContextFits >= 512
        ? `lower the context length to ${j.maxContextFits} or less, lower the image size, or choose a smaller quantization`
        : 'choose a smaller model or quantization, or raise the VRAM budget';
      throw new ServiceError('MODEL_TOO_LARGE',
        `${model.name} needs about ${formatBytes(j.estimate.totalBytes)} of VRAM at a context of ${j.estimate.contextLength} tokens ` +
        `(weights ${formatBytes(j.estimate.weightsBytes)}, KV cache ${formatBytes(j.estimate.kvCacheBytes)}), ` +
        `but only ${formatBytes(j.budget.bytes!)} is available (${j.budget.origin}): ${hint}`);
    }
  }

  /** Loads a model (the window's models.load: an explicit choice, so a crash marker is cleared). */
  load(modelId: string): Promise<ModelStatus> {
    return this.serial(async () => {
      const model = await this.resolve(modelId);
      this.crashedKey = null;
      if (this.options.worker.getStatus().state === 'failed') this.options.worker.restart();
      await this.loadNow(model, this.options.settings());
      return this.getStatus();
    });
  }

  private async loadNow(model: RegisteredModel, settings: Settings): Promise<void> {
    this.check(model, settings);
    const key = loadKey(model, settings);
    if (this.loadedKey === key && this.status.state === 'loaded') return;
    const requestId = ++this.loadRequestId;
    this.loadedKey = null;
    this.setStatus({ state: 'loading', modelId: model.id, progress: 0, backend: null, error: null });
    try {
      await this.options.worker.whenReady();
      const j = judge(model, settings, this.options.worker.engine);
      const reply = await this.options.worker.request({
        type: 'model.load',
        options: {
          modelId: model.id,
          modelPath: model.pair.text.path,
          mmprojPath: model.pair.mmproj?.path ?? null,
          backend: settings.backend,
          contextLength: j.estimate.contextLength,
          // An explicit budget is passed on for the engine to enforce; "automatic" lets it use what is free.
          memoryBudgetBytes: settings.vramBudgetMB > 0 && j.budget.bytes !== null ? j.budget.bytes : 0,
          // The worker bounds images by maxImageSide before the engine's own pixel budget applies.
          threads: undefined,
          minPixels: undefined,
          maxPixels: undefined,
          idleUnloadMs: undefined,
        },
      });
      if (reply.type !== 'model.loaded') throw new WorkerError('WORKER_PROTOCOL', `model.load answered with ${reply.type}`);
      if (requestId !== this.loadRequestId) return;
      this.loadedKey = key;
      this.setStatus({ state: 'loaded', progress: 1, backend: reply.info.backend, error: null });
    } catch (error) {
      const code = errorCode(error);
      if (code === 'WORKER_CRASHED') this.crashedKey = key;
      this.setStatus({ state: 'error', progress: 0, error: `${code}: ${errorMessage(error)}` });
      throw error instanceof ServiceError || error instanceof WorkerError ? error : new ServiceError(code, errorMessage(error));
    }
  }

  unload(): Promise<ModelStatus> {
    return this.serial(async () => {
      if (this.status.state === 'unloaded' && this.loadedKey === null) return this.getStatus();
      this.setStatus({ state: 'unloading' });
      try {
        if (this.options.worker.getStatus().state === 'ready' || this.options.worker.getStatus().state === 'busy') {
          await this.options.worker.request({ type: 'model.unload' }, 30_000);
        }
      } finally {
        this.loadedKey = null;
        this.setStatus({ state: 'unloaded', modelId: null, progress: 0, backend: null, error: null });
      }
      return this.getStatus();
    });
  }

  private pinned: string | null = null;

  /** Makes jobs use this model whatever the settings select (the CLI's --model); null unpins. */
  pin(modelId: string | null): void {
    this.pinned = modelId;
  }

  /** The model jobs will use: the pinned one, else the selected one. */
  activeModelId(): string | null {
    return this.pinned ?? this.options.settings().selectedModelId;
  }

  /** For the job queue: the active model, loaded with the current settings. */
  ensureLoaded(): Promise<RunContext> {
    return this.serial(async () => {
      const settings = this.options.settings();
      const modelId = this.activeModelId();
      if (!modelId) throw new ServiceError('NO_MODEL_SELECTED', 'no model is selected: choose one in Models first');
      const model = await this.resolve(modelId);
      const key = loadKey(model, settings);
      if (this.crashedKey === key) {
        throw new ServiceError('MODEL_LOAD_CRASHED', `loading ${model.name} crashed the GPU worker; load it again from Models (perhaps with a smaller context length) to retry`);
      }
      await this.loadNow(model, settings);
      return { model: { id: model.id, modelPath: model.pair.text.path, mmprojPath: model.pair.mmproj?.path ?? null }, settings };
    });
  }
}
