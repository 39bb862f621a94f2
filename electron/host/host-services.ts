// The main process's services, free of Electron: the same object runs inside the Electron
// main process, inside `kotaro serve` and inside the CLI. It owns the state — settings, the
// history store, the model registry, the job queue — and the GPU worker's supervisor, and it
// turns what they report into bridge events for the window(s).
import { EventEmitter } from 'node:events';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WorkerSupervisor, WorkerError, type SupervisorOptions } from '../worker-host/supervisor.js';
import type { WorkerLauncher } from '../worker-host/launcher.js';
import { workerEntryPath } from '../worker-host/worker-entry.js';
import { WorkerJobRunner } from '../worker-host/worker-job-runner.js';
import type { BridgeEvent, BridgeEventPayload, ModelEntry, Settings } from '../contract/bridge.js';
import { SettingsStore } from '../services/settings-store.js';
import { HistoryStore } from '../services/history-store.js';
import { JobQueue } from '../services/job-queue.js';
import { inspectImage, type ImageFacts } from '../services/image-intake.js';
import { ModelRegistry, toModelEntry, type StoreRoots } from '../services/model-registry/index.js';
import { ModelManager } from '../services/model-manager.js';
import { TelemetryRelay, TELEMETRY_INTERVAL_MS } from '../services/telemetry-relay.js';
import { toJobView } from '../services/job-record.js';
import { exportCsv, exportFilename, exportJson, type ExportFormat } from '../services/history-export.js';
import type { JobRunner } from '../services/job-runner.js';
import { ServiceError } from '../services/service-error.js';

/** XDG data dir (KOTARO_DATA_DIR overrides; tests point it at a temp folder). */
export function defaultDataDir(): string {
  if (process.env.KOTARO_DATA_DIR) return process.env.KOTARO_DATA_DIR;
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'kotaro');
}

export interface HostOptions {
  host: 'electron' | 'serve';
  launcher: WorkerLauncher;
  appVersion: string;
  /** Environment for the worker process (e.g. KOTARO_ADDON_PATH). */
  workerEnv?: Record<string, string>;
  workerEntry?: string;
  /** Where the history database, settings and the upload inbox live (app.getPath('userData') in Electron). */
  dataDir?: string;
  /** Model store roots (default: the user's Ollama, LM Studio and Hugging Face folders, env-overridable). */
  roots?: StoreRoots;
  /** Supervisor tuning (restart backoff, handshake timeout). */
  supervisor?: Pick<SupervisorOptions, 'backoff' | 'maxConsecutiveCrashes' | 'handshakeTimeoutMs'>;
  /** Images allowed to wait in the queue (QUEUE_FULL beyond). */
  maxWaiting?: number;
  /** Replaces image inspection (tests). */
  inspect?: (path: string) => Promise<ImageFacts>;
  /** Replaces the worker job runner (tests). */
  runner?: JobRunner;
  /** How long a cancelled job may take before the worker is killed. */
  cancelGraceMs?: number;
}

type HostEventMap = { [E in BridgeEvent]: [BridgeEventPayload<E>] };

/** Settings whose change alters the models' VRAM judgement. */
const ESTIMATE_KEYS: Array<keyof Settings> = ['contextLength', 'maxImageSide', 'vramBudgetMB', 'backend'];
const EXPORT_LIMIT = 100_000;

export class HostServices extends EventEmitter<{ bridgeEvent: [{ event: BridgeEvent; payload: unknown }] }> {
  readonly worker: WorkerSupervisor;
  readonly dataDir: string;
  readonly settings: SettingsStore;
  readonly history: HistoryStore;
  readonly registry: ModelRegistry;
  readonly models: ModelManager;
  readonly queue: JobQueue;
  readonly telemetry: TelemetryRelay;
  private started = false;

  constructor(readonly options: HostOptions) {
    super();
    this.dataDir = options.dataDir ?? defaultDataDir();
    this.settings = new SettingsStore(this.dataDir);
    this.history = HistoryStore.open(this.dataDir);
    this.worker = new WorkerSupervisor({
      launcher: options.launcher,
      entry: options.workerEntry ?? workerEntryPath(),
      env: options.workerEnv,
      ...options.supervisor,
    });
    this.registry = new ModelRegistry({ roots: options.roots });
    this.models = new ModelManager({
      worker: this.worker,
      registry: this.registry,
      settings: () => this.settings.get(),
      rescan: () => this.rescanModels(),
    });
    this.queue = new JobQueue({
      history: this.history,
      runner: options.runner ?? new WorkerJobRunner(this.worker, { cancelGraceMs: options.cancelGraceMs }),
      inspect: options.inspect ?? inspectImage,
      runContext: () => this.models.ensureLoaded(),
      maxWaiting: options.maxWaiting,
    });
    this.telemetry = new TelemetryRelay((sample) => this.publish('telemetry', sample));

    let lastEngine = '';
    let configuredPid: number | null = null;
    this.worker.on('status', (status) => {
      this.publish('worker.status', status);
      if ((status.state === 'ready' || status.state === 'busy') && status.pid !== configuredPid) {
        // Each fresh worker (first start or a restart) is told to sample at the promised 10 Hz.
        configuredPid = status.pid;
        this.worker.request({ type: 'telemetry.configure', intervalMs: TELEMETRY_INTERVAL_MS }, 10_000).catch(() => undefined);
      }
      const engine = JSON.stringify(status.engine);
      if (engine !== lastEngine) {
        lastEngine = engine; // the GPU's free memory decides what fits
        if (this.registry.hasScanned) this.publish('models.changed', this.modelEntries());
      }
    });
    this.worker.on('message', (message) => {
      if (message.type === 'telemetry') this.telemetry.push(message.sample);
    });
    this.queue.on('updated', (view) => this.publish('job.updated', view));
    this.queue.on('token', (token) => this.publish('job.token', token));
    this.models.on('status', (status) => this.publish('model.status', status));
    this.registry.on('changed', () => this.publish('models.changed', this.modelEntries()));
    this.settings.on('changed', (next) => this.publish('settings.changed', next));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.worker.start();
    void this.rescanModels().catch((error) => console.error(`kotaro: model scan failed: ${(error as Error).message}`));
  }

  async stop(): Promise<void> {
    await this.queue.stop();
    this.telemetry.stop();
    await this.worker.stop();
    this.history.close();
  }

  /** Pushes an event to every connected window (Electron IPC or WebSocket clients). */
  publish<E extends BridgeEvent>(event: E, payload: HostEventMap[E][0]): void {
    this.emit('bridgeEvent', { event, payload });
  }

  async pingWorker(): Promise<{ roundTripMs: number; workerPid: number }> {
    await this.worker.whenReady();
    const sentAt = performance.now();
    const reply = await this.worker.request({ type: 'ping', sentAt }, 10_000);
    if (reply.type !== 'pong') throw new WorkerError('WORKER_PROTOCOL', `ping answered with ${reply.type}`);
    return { roundTripMs: performance.now() - sentAt, workerPid: reply.pid };
  }

  // ---- models ----

  modelEntries(): ModelEntry[] {
    const settings = this.settings.get();
    return this.registry.list().map((m) => toModelEntry(m, settings, this.worker.engine));
  }

  async rescanModels(): Promise<ModelEntry[]> {
    await this.registry.scan(this.settings.get().modelFolders);
    return this.modelEntries();
  }

  async listModels(): Promise<ModelEntry[]> {
    if (!this.registry.hasScanned) return this.rescanModels();
    return this.modelEntries();
  }

  /** Loading a model also selects it: the next images use it. */
  async loadModel(modelId: string) {
    const status = await this.models.load(modelId);
    if (this.settings.get().selectedModelId !== modelId) this.settings.update({ selectedModelId: modelId });
    return status;
  }

  // ---- settings ----

  updateSettings(patch: unknown): Settings {
    const before = this.settings.get();
    const next = this.settings.update(patch);
    if (JSON.stringify(before.modelFolders) !== JSON.stringify(next.modelFolders)) {
      void this.rescanModels().catch((error) => console.error(`kotaro: model scan failed: ${(error as Error).message}`));
    } else if (ESTIMATE_KEYS.some((k) => before[k] !== next[k]) && this.registry.hasScanned) {
      this.publish('models.changed', this.modelEntries());
    }
    return next;
  }

  // ---- jobs ----

  /**
   * Queues images. Refused at once (nothing queued) when no usable model is selected, or it
   * does not fit: a clear answer now is better than a batch of identical failures later.
   */
  async submitJobs(paths: string[]): Promise<string[]> {
    const settings = this.settings.get();
    const modelId = this.models.activeModelId();
    if (!modelId) throw new ServiceError('NO_MODEL_SELECTED', 'no model is selected: choose one in Models first');
    if (!this.registry.get(modelId)) await this.listModels();
    const model = this.registry.get(modelId);
    if (!model) throw new ServiceError('MODEL_NOT_FOUND', `the selected model ${modelId} was not found (was its file moved? rescan the models)`);
    this.models.check(model, settings);
    if (!model.pair.vision) throw new ServiceError('MODEL_NO_VISION', `${model.name} has no vision projector: it cannot see images`);
    return this.queue.submit(paths);
  }

  // ---- history ----

  searchHistory(query: string, limit: number, offset: number) {
    const { items, total } = this.history.search({ query, limit, offset });
    return { items: items.map(toJobView), total };
  }

  exportHistory(format: ExportFormat, query: string): { filename: string; content: string } {
    const { items } = this.history.search({ query, limit: EXPORT_LIMIT, offset: 0 });
    return { filename: exportFilename(format), content: format === 'json' ? exportJson(items) : exportCsv(items) };
  }
}
