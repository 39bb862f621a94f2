// What the host knows about one job (one image analysed), as the history store keeps it and the
// queue carries it. The window sees a projection of it (JobView in electron/contract/bridge.ts).
import type { JobState, JobTimings, JobView, Settings } from '../contract/bridge.js';

export interface JobError {
  code: string;
  message: string;
}

export interface JobRecord {
  id: string;
  batchId: string;
  state: JobState;
  imagePath: string;
  imageName: string;
  /** sha256 of the file's bytes, hex; null until the file has been read. */
  imageHash: string | null;
  imageBytes: number | null;
  imageWidth: number | null;
  imageHeight: number | null;
  /** data:image/jpeg;base64,… of at most 160 px; null until made (or when the image is unreadable). */
  thumbnail: string | null;
  modelId: string | null;
  modelPath: string | null;
  mmprojPath: string | null;
  /** The settings the job ran with (a snapshot: later changes do not rewrite history). */
  settings: Settings | null;
  description: string;
  comments: string[];
  /** The raw text the model streamed (kept for failed jobs too: partial output is evidence). */
  streamText: string;
  progress: number;
  error: JobError | null;
  timings: Partial<JobTimings>;
  /** The job this one retries, if any. */
  retryOf: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  editedAt: number | null;
  /** The host process that owns the job while it is pending or running (crash recovery). */
  ownerPid: number | null;
}

export function toJobView(job: JobRecord): JobView {
  return {
    id: job.id,
    batchId: job.batchId,
    state: job.state,
    imagePath: job.imagePath,
    imageName: job.imageName,
    imageHash: job.imageHash,
    thumbnail: job.thumbnail,
    modelId: job.modelId,
    description: job.description,
    comments: [...job.comments],
    streamText: job.streamText,
    progress: job.state === 'done' ? 1 : Math.min(1, Math.max(0, job.progress)),
    error: job.error ? { ...job.error } : null,
    timings: fullTimings(job.timings),
    createdAt: job.createdAt,
    finishedAt: job.finishedAt,
  };
}

export function isFinished(state: JobState): boolean {
  return state === 'done' || state === 'failed' || state === 'cancelled';
}

/** The contract's timings type names every key (each may be undefined). */
export function fullTimings(t: Partial<JobTimings>): JobTimings {
  return {
    decodeMs: t.decodeMs,
    preprocessMs: t.preprocessMs,
    visionMs: t.visionMs,
    prefillMs: t.prefillMs,
    firstTokenMs: t.firstTokenMs,
    decodeTokensPerSecond: t.decodeTokensPerSecond,
    totalMs: t.totalMs,
  };
}
