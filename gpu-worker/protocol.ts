// The main ↔ worker contract. Every message is validated where it is received: the worker
// parses requests with `workerRequest`, main parses replies with `workerMessage`.
// Large data never crosses as a buffer: images travel as file paths.
//
// Two kinds of worker → main messages:
//  - replies carry the `id` of the request they answer (exactly one final reply per request:
//    its result type, `ack`, or `error`). The supervisor resolves the pending request with it.
//  - events carry `id: EVENT_ID` (0; request ids start at 1) so the supervisor never mistakes
//    them for a reply; they name what they belong to with `requestId` / `jobId` instead.
//    Events: model.progress, model.unloaded, job.stage, job.token, telemetry.
//
// Flow of one analysis job (see docs/worker.md):
//   main → job.analyze {id, jobId, imagePath, settings}
//   worker → job.stage {jobId, stage:'decode'} … 'preprocess' 'vision' 'prefill' 'description' 'comments'
//   worker → job.token {jobId, part:'description'|'comments', text} (streamed, UTF-8 safe deltas)
//   worker → job.result {id, jobId, description, comments, timings, …}   (final reply)
//         or error {id, error:{code:'CANCELLED'|'IMAGE_*'|'NO_MODEL'|…}}
//   main → job.cancel {id, jobId} is answered with ack at once; the job then ends with CANCELLED.
import { s, type Infer } from '../electron/contract/schema.js';
import { analysisSettingsFields, engineBuildInfo, jobTimings, telemetrySample, type Settings } from '../electron/contract/bridge.js';

/** Bumped on any incompatible change; main refuses a worker that answers another version. */
export const PROTOCOL_VERSION = 1;

/** The `id` of every event (unsolicited message); request ids start at 1. */
export const EVENT_ID = 0;

const requestId = s.number({ int: true, min: 1 });
const eventId = s.literal(EVENT_ID);
const path = s.string({ min: 1, max: 4096 });

// ---- requests' payloads ----

/** What the worker needs to load a model pair. Mirrors kotaro::ModelOptions. */
export const modelLoadOptions = s.object({
  /** Main's registry id, echoed in model events so main can match them. */
  modelId: s.string({ min: 1, max: 500 }),
  modelPath: path,
  /** The vision GGUF (clip / qwen2.5vl_merger); null for a text-only model. */
  mmprojPath: s.nullable(path),
  backend: s.enum(['auto', 'cpu', 'cuda'] as const),
  contextLength: s.number({ int: true, min: 256, max: 131072 }),
  /** Device bytes the engine may use; 0 = what is free. */
  memoryBudgetBytes: s.number({ int: true, min: 0 }),
  /** CPU backend threads; 0 = hardware concurrency. */
  threads: s.optional(s.number({ int: true, min: 0, max: 1024 })),
  /** Image pixel budget (transformers' min_pixels/max_pixels); the engine's defaults when absent. */
  minPixels: s.optional(s.number({ int: true, min: 28 * 28 })),
  maxPixels: s.optional(s.number({ int: true, min: 28 * 28 })),
  /** Unload after this long without a job; 0 or absent = never. */
  idleUnloadMs: s.optional(s.number({ int: true, min: 0 })),
});
export type ModelLoadOptions = Infer<typeof modelLoadOptions>;

/** The settings one analysis job uses: a subset of the app's settings (same names and ranges). */
export const analysisSettings = s.object({
  ...analysisSettingsFields,
  /** Sampling seed; absent = a fresh random seed per job. */
  seed: s.optional(s.number({ int: true, min: 0 })),
});
export type AnalysisSettings = Infer<typeof analysisSettings>;

/** Picks the analysis settings out of the app's settings object. */
export function analysisSettingsOf(all: Settings, seed?: number): AnalysisSettings {
  const { temperature, topP, topK, minP, repetitionPenalty, maxNewTokens, maxImageSide, commentTone, commentCount, outputLanguage } = all;
  return { temperature, topP, topK, minP, repetitionPenalty, maxNewTokens, maxImageSide, commentTone, commentCount, outputLanguage, seed };
}

export const workerRequest = s.union('type', {
  hello: s.object({ type: s.literal('hello'), id: requestId, protocolVersion: s.number({ int: true }) }),
  ping: s.object({ type: s.literal('ping'), id: requestId, sentAt: s.number() }),
  shutdown: s.object({ type: s.literal('shutdown'), id: requestId }),
  /** Loads (or replaces) the model. Events: model.progress. Reply: model.loaded | error. */
  'model.load': s.object({ type: s.literal('model.load'), id: requestId, options: modelLoadOptions }),
  /** Unloads the model (cancelling a running job first). Reply: ack (also when none was loaded). */
  'model.unload': s.object({ type: s.literal('model.unload'), id: requestId }),
  /** Analyses one image. Events: job.stage, job.token. Reply: job.result | error. */
  'job.analyze': s.object({
    type: s.literal('job.analyze'),
    id: requestId,
    jobId: s.string({ min: 1, max: 100 }),
    imagePath: path,
    settings: analysisSettings,
  }),
  /** Cancels a job (running or not yet started). Reply: ack at once; the job's own reply is error CANCELLED. */
  'job.cancel': s.object({ type: s.literal('job.cancel'), id: requestId, jobId: s.string({ min: 1, max: 100 }) }),
  /** Telemetry period: intervalMs 0 turns telemetry off (default 100 ms = 10 Hz). Reply: ack. */
  'telemetry.configure': s.object({ type: s.literal('telemetry.configure'), id: requestId, intervalMs: s.number({ int: true, min: 0, max: 60_000 }) }),
});
export type WorkerRequest = Infer<typeof workerRequest>;

const errorShape = s.object({ code: s.string(), message: s.string() });

/** What model.info() tells about a loaded model (camelCase of kotaro::ModelInfo). */
export const modelInfo = s.object({
  architecture: s.string(),
  name: s.string(),
  backend: s.string(),
  weightType: s.string(),
  nVocab: s.number({ int: true }),
  nEmbd: s.number({ int: true }),
  nLayer: s.number({ int: true }),
  nHead: s.number({ int: true }),
  nHeadKv: s.number({ int: true }),
  nCtxTrain: s.number({ int: true }),
  contextLength: s.number({ int: true }),
  hasVision: s.boolean(),
  imagePadToken: s.number({ int: true }),
  visionStartToken: s.number({ int: true }),
  visionEndToken: s.number({ int: true }),
  visionPatchSize: s.number({ int: true }),
  visionMergeSize: s.number({ int: true }),
});
export type ModelInfo = Infer<typeof modelInfo>;

/** model.memory(): bytes by category (kotaro::MemoryReport). */
export const memoryReport = s.object({
  weights: s.number(),
  kvCache: s.number(),
  activations: s.number(),
  workspace: s.number(),
  deviceUsed: s.number(),
  deviceTotal: s.number(),
});
export type MemoryReport = Infer<typeof memoryReport>;

export const jobStage = s.enum(['queued', 'decode', 'preprocess', 'vision', 'prefill', 'description', 'comments'] as const);
export type JobStage = Infer<typeof jobStage>;

export const workerMessage = s.union('type', {
  hello: s.object({
    type: s.literal('hello'),
    id: s.number({ int: true }),
    protocolVersion: s.number({ int: true }),
    pid: s.number({ int: true }),
    engine: s.nullable(engineBuildInfo),
    engineError: s.nullable(errorShape),
  }),
  pong: s.object({ type: s.literal('pong'), id: s.number({ int: true }), sentAt: s.number(), pid: s.number({ int: true }) }),
  error: s.object({ type: s.literal('error'), id: s.number({ int: true }), error: errorShape }),
  ack: s.object({ type: s.literal('ack'), id: s.number({ int: true }) }),

  // ---- replies ----
  /** Reply to model.load. */
  'model.loaded': s.object({
    type: s.literal('model.loaded'),
    id: s.number({ int: true }),
    modelId: s.string(),
    info: modelInfo,
    memory: memoryReport,
    loadMs: s.number(),
  }),
  /** Reply to job.analyze. `rawDescription`/`rawComments` are the model's text before parsing. */
  'job.result': s.object({
    type: s.literal('job.result'),
    id: s.number({ int: true }),
    jobId: s.string(),
    description: s.string(),
    comments: s.array(s.string()),
    rawDescription: s.string(),
    rawComments: s.string(),
    timings: jobTimings,
    promptTokens: s.number({ int: true }),
    generatedTokens: s.number({ int: true }),
    /** The size the engine saw after our longest-side resize (before its own smart resize). */
    imageWidth: s.number({ int: true }),
    imageHeight: s.number({ int: true }),
  }),

  // ---- events (id = EVENT_ID) ----
  /** Load progress of the model.load request `requestId`, 0..1. */
  'model.progress': s.object({ type: s.literal('model.progress'), id: eventId, requestId: s.number({ int: true }), modelId: s.string(), progress: s.number({ min: 0, max: 1 }) }),
  /** The model went away without a model.unload request ('idle' timeout), or with one ('request'). */
  'model.unloaded': s.object({ type: s.literal('model.unloaded'), id: eventId, modelId: s.string(), reason: s.enum(['idle', 'request', 'replaced'] as const) }),
  /** A job entered a stage; `progress` is a rough 0..1 for the UI's bar. */
  'job.stage': s.object({ type: s.literal('job.stage'), id: eventId, jobId: s.string(), stage: jobStage, progress: s.number({ min: 0, max: 1 }) }),
  /** Streamed text (same shape as the bridge's job.token event, so main can forward it). */
  'job.token': s.object({ type: s.literal('job.token'), id: eventId, jobId: s.string(), part: s.enum(['description', 'comments'] as const), text: s.string() }),
  /** About 10 Hz: the bridge's telemetry sample (main forwards it as is). */
  telemetry: s.object({ type: s.literal('telemetry'), id: eventId, sample: telemetrySample }),
});
export type WorkerMessage = Infer<typeof workerMessage>;
