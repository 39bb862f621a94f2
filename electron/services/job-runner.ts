// What the job queue needs from whatever runs a job: run it (streaming tokens and progress),
// and cancel it. Production: electron/worker-host/worker-job-runner.ts (the GPU worker).
import type { JobTimings, Settings } from '../contract/bridge.js';

export interface RunModel {
  id: string;
  modelPath: string;
  mmprojPath: string | null;
}

export interface RunContext {
  model: RunModel;
  settings: Settings;
}

export interface RunInput extends RunContext {
  jobId: string;
  imagePath: string;
}

export interface RunHooks {
  onToken(part: 'description' | 'comments', text: string): void;
  /** 0..1, monotone. */
  onProgress(fraction: number): void;
}

export interface JobOutput {
  description: string;
  comments: string[];
  /** The model's whole raw answer, as streamed. */
  rawText: string;
  timings: Partial<JobTimings>;
}

export interface JobRunner {
  /** Resolves with the parsed answer; rejects with an error carrying a code (CANCELLED when cancelled). */
  run(input: RunInput, hooks: RunHooks): Promise<JobOutput>;
  /** Asks the running job to stop; the promise of `run` then settles. Unknown ids are ignored. */
  cancel(jobId: string): void;
}
