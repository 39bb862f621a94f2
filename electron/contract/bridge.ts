// The renderer ↔ main contract: every method the window may call on `window.kotaro` and
// every event main pushes to it. Main validates params where it receives them
// (electron/host/bridge-router.ts); the schemas also type the renderer's client.
// Pure TypeScript: imported by main, the renderer, the headless server and the tests.
import { s, type Infer, type Schema } from './schema.js';

export const BRIDGE_VERSION = 1;

const gpuInfo = s.object({
  index: s.number({ int: true }),
  name: s.string(),
  computeCapability: s.string(),
  totalBytes: s.number(),
  freeBytes: s.number(),
  smCount: s.number(),
});

export const engineBuildInfo = s.object({
  version: s.string(),
  cudaCompiled: s.boolean(),
  cudaArchs: s.string(),
  cudaRuntimeVersion: s.number(),
  cudaDriverVersion: s.number(),
  napiVersion: s.number(),
  gpus: s.array(gpuInfo),
});
export type EngineBuildInfo = Infer<typeof engineBuildInfo>;

export const workerState = s.enum(['starting', 'ready', 'busy', 'restarting', 'stopped', 'failed'] as const);
export type WorkerState = Infer<typeof workerState>;

export const workerStatus = s.object({
  state: workerState,
  pid: s.nullable(s.number()),
  restarts: s.number({ int: true, min: 0 }),
  lastError: s.nullable(s.string()),
  engine: s.nullable(engineBuildInfo),
});
export type WorkerStatus = Infer<typeof workerStatus>;

export const appInfo = s.object({
  name: s.string(),
  version: s.string(),
  host: s.enum(['electron', 'serve'] as const),
  platform: s.string(),
  bridgeVersion: s.number(),
  worker: workerStatus,
});
export type AppInfo = Infer<typeof appInfo>;

const empty = s.object({});

// ---- jobs (one job = one image analysed: a description and social comments) ----
export const jobState = s.enum(['pending', 'running', 'done', 'failed', 'cancelled'] as const);
export type JobState = Infer<typeof jobState>;

export const jobTimings = s.object({
  decodeMs: s.optional(s.number()),
  preprocessMs: s.optional(s.number()),
  visionMs: s.optional(s.number()),
  prefillMs: s.optional(s.number()),
  firstTokenMs: s.optional(s.number()),
  decodeTokensPerSecond: s.optional(s.number()),
  totalMs: s.optional(s.number()),
});
export type JobTimings = Infer<typeof jobTimings>;

export const jobView = s.object({
  id: s.string(),
  batchId: s.string(),
  state: jobState,
  imagePath: s.string(),
  imageName: s.string(),
  imageHash: s.nullable(s.string()),
  thumbnail: s.nullable(s.string()),          // data: URL of a small JPEG
  modelId: s.nullable(s.string()),
  description: s.string(),
  comments: s.array(s.string()),
  /** Raw streamed text while running (the parsed fields above are filled when done). */
  streamText: s.string(),
  progress: s.number({ min: 0, max: 1 }),
  error: s.nullable(s.object({ code: s.string(), message: s.string() })),
  timings: jobTimings,
  createdAt: s.number(),
  finishedAt: s.nullable(s.number()),
});
export type JobView = Infer<typeof jobView>;

// ---- models ----
/** The registry's VRAM estimate at the current context length (electron/services/model-registry/vram-estimate.ts). */
export const vramEstimate = s.object({
  contextLength: s.number(),
  weightsBytes: s.number(),
  kvCacheBytes: s.number(),
  activationsBytes: s.number(),
  visionBytes: s.number(),
  overheadBytes: s.number(),
  totalBytes: s.number(),
});
export type VramEstimate = Infer<typeof vramEstimate>;

export const modelEntry = s.object({
  id: s.string(),
  name: s.string(),
  source: s.enum(['folder', 'ollama', 'lmstudio', 'huggingface'] as const),
  modelPath: s.string(),
  mmprojPath: s.nullable(s.string()),
  architecture: s.string(),
  quantization: s.string(),
  sizeBytes: s.number(),
  contextLength: s.number(),
  vramEstimateBytes: s.number(),
  fits: s.nullable(s.boolean()),     // null when no GPU was detected
  problem: s.nullable(s.string()),   // why it cannot be used, if so
  // Added by the host services (optional so older payloads still parse):
  vision: s.optional(s.boolean()),                     // it can see images (a projector is paired)
  estimate: s.optional(vramEstimate),                  // the breakdown behind vramEstimateBytes
  budgetBytes: s.optional(s.nullable(s.number())),     // the VRAM budget `fits` was judged against
  maxContextFits: s.optional(s.nullable(s.number())),  // longest context that fits the budget
});
export type ModelEntry = Infer<typeof modelEntry>;

export const modelStatus = s.object({
  state: s.enum(['unloaded', 'loading', 'loaded', 'unloading', 'error'] as const),
  modelId: s.nullable(s.string()),
  progress: s.number({ min: 0, max: 1 }),
  backend: s.nullable(s.string()),
  error: s.nullable(s.string()),
});
export type ModelStatus = Infer<typeof modelStatus>;

// ---- settings ----
/** The fields one analysis job uses; shared with the worker protocol (same names and ranges). */
export const analysisSettingsFields = {
  temperature: s.number({ min: 0, max: 2 }),
  topP: s.number({ min: 0, max: 1 }),
  topK: s.number({ int: true, min: 0, max: 1000 }),
  minP: s.number({ min: 0, max: 1 }),
  repetitionPenalty: s.number({ min: 1, max: 2 }),
  /** Per answer (description, and the comments together). */
  maxNewTokens: s.number({ int: true, min: 16, max: 4096 }),
  /** The decoded image is scaled so its longest side is at most this, before the engine's smart resize. */
  maxImageSide: s.number({ int: true, min: 112, max: 2048 }),
  commentTone: s.enum(['friendly', 'casual', 'professional', 'playful', 'poetic'] as const),
  commentCount: s.number({ int: true, min: 1, max: 10 }),
  outputLanguage: s.enum(['ja', 'en'] as const),
};

export const settings = s.object({
  ...analysisSettingsFields,
  uiLanguage: s.enum(['system', 'ja', 'en'] as const),
  vramBudgetMB: s.number({ int: true, min: 0 }),       // 0 = automatic
  contextLength: s.number({ int: true, min: 512, max: 32768 }),
  backend: s.enum(['auto', 'cpu', 'cuda'] as const),
  hardwareAcceleration: s.boolean(),
  modelFolders: s.array(s.string(), { max: 50 }),
  selectedModelId: s.nullable(s.string()),
});
export type Settings = Infer<typeof settings>;

// ---- telemetry (about 10 Hz) ----
export const telemetrySample = s.object({
  t: s.number(),                                   // ms since epoch
  deviceUsedBytes: s.number(),
  deviceTotalBytes: s.number(),
  engine: s.object({ weights: s.number(), kvCache: s.number(), activations: s.number(), workspace: s.number() }),
  otherProcessesBytes: s.nullable(s.number()),     // null when NVML cannot tell
  backend: s.string(),
});
export type TelemetrySample = Infer<typeof telemetrySample>;

interface MethodSpec<P, R> {
  params: Schema<P>;
  result: Schema<R>;
}
function method<P, R>(params: Schema<P>, result: Schema<R>): MethodSpec<P, R> {
  return { params, result };
}

const jobId = s.object({ jobId: s.string({ min: 1, max: 100 }) });
const ok = s.object({ ok: s.boolean() });

/** Request/response methods. Add new ones here; main must handle each (the router's type demands it). */
export const bridgeMethods = {
  'app.info': method(empty, appInfo),
  'worker.ping': method(empty, s.object({ roundTripMs: s.number(), workerPid: s.number() })),
  'jobs.submit': method(s.object({ paths: s.array(s.string({ min: 1, max: 4096 }), { max: 1000 }) }), s.object({ jobIds: s.array(s.string()) })),
  'jobs.list': method(empty, s.array(jobView)),
  'jobs.cancel': method(jobId, ok),
  'jobs.cancelAll': method(empty, ok),
  'jobs.retry': method(jobId, s.object({ jobId: s.string() })),
  'jobs.edit': method(s.object({ jobId: s.string({ min: 1, max: 100 }), description: s.string({ max: 100_000 }), comments: s.array(s.string({ max: 10_000 }), { max: 50 }) }), jobView),
  'history.search': method(
    s.object({ query: s.string({ max: 500 }), limit: s.number({ int: true, min: 1, max: 500 }), offset: s.number({ int: true, min: 0 }) }),
    s.object({ items: s.array(jobView), total: s.number() }),
  ),
  'history.export': method(s.object({ format: s.enum(['json', 'csv'] as const), query: s.string({ max: 500 }) }), s.object({ filename: s.string(), content: s.string() })),
  'models.list': method(empty, s.array(modelEntry)),
  'models.rescan': method(empty, s.array(modelEntry)),
  'models.load': method(s.object({ modelId: s.string({ min: 1, max: 500 }) }), modelStatus),
  'models.unload': method(empty, modelStatus),
  'models.status': method(empty, modelStatus),
  'settings.get': method(empty, settings),
  'settings.update': method(s.object({ patch: s.unknown() }), settings),
} as const;

/** Events main pushes to the window. */
export const bridgeEvents = {
  'worker.status': workerStatus,
  'job.updated': jobView,
  'job.token': s.object({ jobId: s.string(), part: s.enum(['description', 'comments'] as const), text: s.string() }),
  'model.status': modelStatus,
  'models.changed': s.array(modelEntry),
  'settings.changed': settings,
  'telemetry': telemetrySample,
} as const;

export type BridgeMethod = keyof typeof bridgeMethods;
export type BridgeParams<M extends BridgeMethod> = Infer<(typeof bridgeMethods)[M]['params']>;
export type BridgeResult<M extends BridgeMethod> = Infer<(typeof bridgeMethods)[M]['result']>;
export type BridgeEvent = keyof typeof bridgeEvents;
export type BridgeEventPayload<E extends BridgeEvent> = Infer<(typeof bridgeEvents)[E]>;

/** What `window.kotaro` is, in Electron (preload) and in a browser (WebSocket client). */
export interface KotaroBridge {
  invoke<M extends BridgeMethod>(method: M, params: BridgeParams<M>): Promise<BridgeResult<M>>;
  on<E extends BridgeEvent>(event: E, listener: (payload: BridgeEventPayload<E>) => void): () => void;
  /**
   * Turns dropped/picked files into paths main can read. Electron: the files' own paths
   * (webUtils.getPathForFile). Browser on `kotaro serve`: the bytes are uploaded to the
   * host's inbox (POST /upload with the token) and the stored paths come back.
   */
  pathsForFiles(files: File[]): Promise<string[]>;
}

/** An error as it crosses the bridge. */
export interface BridgeErrorShape {
  code: string;
  message: string;
}

export class BridgeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'BridgeError';
  }
}

export function isBridgeMethod(name: unknown): name is BridgeMethod {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(bridgeMethods, name);
}

/** Wire frames of the WebSocket transport used by `kotaro serve`. */
export const wireRequest = s.object({
  type: s.literal('invoke'),
  id: s.number({ int: true, min: 0 }),
  method: s.string({ max: 100 }),
  params: s.unknown(),
});
export type WireRequest = Infer<typeof wireRequest>;
export type WireMessage =
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: BridgeErrorShape }
  | { type: 'event'; event: string; payload: unknown };
