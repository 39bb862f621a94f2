// Runs queue jobs on the GPU worker (gpu-worker/protocol.ts: job.analyze / job.cancel and the
// job.stage / job.token events). A cancel is asked politely first; a worker that does not end
// the job within `cancelGraceMs` (stuck in a CUDA kernel, say) is killed, which the supervisor
// turns into a restart and this job's promise into a rejection that the queue records as
// cancelled.
import { analysisSettingsOf, type WorkerMessage } from '../../gpu-worker/protocol.js';
import type { JobOutput, JobRunner, RunHooks, RunInput } from '../services/job-runner.js';
import { WorkerError, type WorkerSupervisor } from './supervisor.js';

export interface WorkerJobRunnerOptions {
  cancelGraceMs?: number;
}

interface Active {
  jobId: string;
  hooks: RunHooks;
  cancelTimer: NodeJS.Timeout | null;
}

export class WorkerJobRunner implements JobRunner {
  private active: Active | null = null;
  private readonly cancelGraceMs: number;

  constructor(private readonly worker: WorkerSupervisor, options: WorkerJobRunnerOptions = {}) {
    this.cancelGraceMs = options.cancelGraceMs ?? 10_000;
    worker.on('message', (message) => this.onEvent(message));
  }

  private onEvent(message: WorkerMessage): void {
    const active = this.active;
    if (!active) return;
    if (message.type === 'job.token' && message.jobId === active.jobId) active.hooks.onToken(message.part, message.text);
    else if (message.type === 'job.stage' && message.jobId === active.jobId) active.hooks.onProgress(message.progress);
  }

  async run(input: RunInput, hooks: RunHooks): Promise<JobOutput> {
    if (this.active) throw new WorkerError('WORKER_BUSY', `job ${this.active.jobId} is still running on the worker`);
    const active: Active = { jobId: input.jobId, hooks, cancelTimer: null };
    this.active = active;
    try {
      await this.worker.whenReady();
      const reply = await this.worker.request({
        type: 'job.analyze',
        jobId: input.jobId,
        imagePath: input.imagePath,
        settings: analysisSettingsOf(input.settings),
      });
      if (reply.type !== 'job.result' || reply.jobId !== input.jobId) {
        throw new WorkerError('WORKER_PROTOCOL', `job.analyze answered with ${reply.type}`);
      }
      const rawText = reply.rawComments ? `${reply.rawDescription}\n\n${reply.rawComments}` : reply.rawDescription;
      const { timings } = reply;
      return { description: reply.description, comments: reply.comments, rawText, timings: { ...timings } };
    } finally {
      if (active.cancelTimer) clearTimeout(active.cancelTimer);
      if (this.active === active) this.active = null;
    }
  }

  cancel(jobId: string): void {
    const active = this.active;
    if (!active || active.jobId !== jobId || active.cancelTimer) return;
    this.worker.request({ type: 'job.cancel', jobId }, 5_000).catch(() => undefined);
    active.cancelTimer = setTimeout(() => {
      if (this.active === active) this.worker.kill();
    }, this.cancelGraceMs);
  }
}
