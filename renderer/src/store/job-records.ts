// Pure helpers for the queue: ordering, placeholders and what a card shows while a job
// streams. Kept apart from the slice so the rules are easy to read and to test.
import type { JobView } from '../../../electron/contract/bridge';

export const DRAFT_PREFIX = 'draft:';
export const isDraftKey = (key: string) => key.startsWith(DRAFT_PREFIX);

export type JobState = JobView['state'];
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);

/** Token text received while a job runs, per part of the answer. */
export interface LiveText {
  description: string;
  comments: string;
}

/** What a card stands for between jobs.submit answering and the job's first event. */
export function placeholderJob(id: string, imageName: string, createdAt: number): JobView {
  return {
    id,
    batchId: '',
    state: 'pending',
    imagePath: '',
    imageName,
    imageHash: null,
    thumbnail: null,
    modelId: null,
    description: '',
    comments: [],
    streamText: '',
    progress: 0,
    error: null,
    timings: { decodeMs: undefined, preprocessMs: undefined, visionMs: undefined, prefillMs: undefined, firstTokenMs: undefined, decodeTokensPerSecond: undefined, totalMs: undefined },
    createdAt,
    finishedAt: null,
  };
}

/** Newest first; a batch keeps its file order (ids as tie-breaker keep it stable). */
export function sortNewestFirst(jobs: JobView[]): JobView[] {
  return jobs
    .map((job, index) => ({ job, index }))
    .sort((a, b) => b.job.createdAt - a.job.createdAt || a.index - b.index)
    .map(({ job }) => job);
}

/** The text a card shows: the parsed result once done, the stream while it is written. */
export function displayedText(job: JobView, live: LiveText | undefined): { description: string; comments: string[]; streaming: boolean } {
  if (job.state === 'done' || (!live && !job.streamText)) {
    return { description: job.description, comments: job.comments, streaming: false };
  }
  if (live && (live.description || live.comments)) {
    const comments = live.comments
      .split('\n')
      .map((line) => line.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, '').trim())
      .filter((line) => line.length > 0);
    return { description: live.description, comments, streaming: job.state === 'running' };
  }
  // Hosts that send only job.updated with the raw stream: show it as the description.
  return { description: job.description || job.streamText, comments: job.comments, streaming: job.state === 'running' };
}

/** Plain text of a result, as the copy button puts it on the clipboard. */
export function resultAsText(description: string, comments: string[]): string {
  if (comments.length === 0) return description;
  return `${description}\n\n${comments.map((c) => `- ${c}`).join('\n')}`;
}
