// The queue: images added in this window (drafts while their bytes upload), jobs from the
// host, and the text each job streams. Fed by job.updated / job.token events and by
// jobs.list at start, so results are there again after a restart.
import type { StateCreator } from 'zustand';
import type { BridgeEventPayload, JobView } from '../../../electron/contract/bridge';
import { errorOf } from '../util/format';
import type { ErrorInfo, StoreDeps } from './deps';
import { DRAFT_PREFIX, TERMINAL_STATES, isDraftKey, placeholderJob, sortNewestFirst, type LiveText } from './job-records';
import type { KotaroState } from './types';

/** An image added here whose job does not exist yet (uploading), or whose upload failed. */
export interface Draft {
  key: string;
  fileName: string;
  previewUrl: string | null;
  error: ErrorInfo | null;
}

export interface DropNotice {
  skipped: number;
  truncated: boolean;
}

export interface JobsSlice {
  jobs: Record<string, JobView>;
  live: Record<string, LiveText>;
  /** jobId → a local preview URL, shown until the job's own thumbnail arrives. */
  previews: Record<string, string>;
  drafts: Record<string, Draft>;
  /** Job ids and draft keys, newest batch first. */
  queue: string[];
  jobsLoaded: boolean;
  jobsError: ErrorInfo | null;
  /** The last failed action (cancel, retry, edit) per job. */
  actionErrors: Record<string, ErrorInfo>;
  dropNotice: DropNotice | null;
  /** Bumped whenever a job reaches an end state (the history view searches again). */
  finishedVersion: number;

  loadJobs(): Promise<void>;
  addFiles(files: File[]): Promise<void>;
  /** Uploads (if it never arrived) and submits a failed draft again. */
  retryDraft(key: string): Promise<void>;
  setDropNotice(notice: DropNotice | null): void;
  applyJobUpdate(job: JobView): void;
  applyToken(token: BridgeEventPayload<'job.token'>): void;
  cancelJob(jobId: string): Promise<void>;
  cancelAll(): Promise<void>;
  retryJob(jobId: string): Promise<void>;
  editJob(jobId: string, description: string, comments: string[]): Promise<boolean>;
  dismissDraft(key: string): void;
  /** Takes finished cards off the queue view (they stay in the history). */
  clearFinished(): void;
}

/** How many past results the queue shows at start. */
export const RECENT_ON_START = 50;

let draftCounter = 0;

export const createJobsSlice =
  (deps: StoreDeps): StateCreator<KotaroState, [], [], JobsSlice> =>
  (set, get) => {
    /** What each draft came from, for a retry: the file, and its host path once uploaded. */
    const sources = new Map<string, { file: File; path: string | null }>();

    const failDraft = (key: string, error: ErrorInfo) =>
      set((s) => (s.drafts[key] ? { drafts: { ...s.drafts, [key]: { ...s.drafts[key]!, error } } } : {}));

    /** The draft becomes the job: same place in the queue, same preview. */
    const link = (key: string, jobId: string) => {
      sources.delete(key);
      set((s) => {
        const draft = s.drafts[key];
        const drafts = { ...s.drafts };
        delete drafts[key];
        const queue = s.queue.filter((k) => k !== jobId).map((k) => (k === key ? jobId : k));
        if (!queue.includes(jobId)) queue.unshift(jobId);
        const jobs = s.jobs[jobId] ? s.jobs : { ...s.jobs, [jobId]: placeholderJob(jobId, draft?.fileName ?? '', Date.now()) };
        const previews = draft?.previewUrl && !s.jobs[jobId]?.thumbnail ? { ...s.previews, [jobId]: draft.previewUrl } : s.previews;
        if (draft?.previewUrl && previews === s.previews) deps.previews.revoke(draft.previewUrl);
        return { drafts, queue, jobs, previews };
      });
    };

    /**
     * Uploads the drafts one at a time and submits whatever finished uploading as soon as
     * no submit is in flight, so the first image starts while the rest upload.
     */
    const ingest = async (keys: string[]) => {
      const ready: Array<{ key: string; path: string }> = [];
      let submitting: Promise<void> | null = null;
      const submitReady = async () => {
        while (ready.length > 0) {
          const batch = ready.splice(0);
          try {
            const { jobIds } = await deps.bridge.invoke('jobs.submit', { paths: batch.map((b) => b.path) });
            batch.forEach((b, i) => {
              const jobId = jobIds[i];
              if (jobId) link(b.key, jobId);
              else failDraft(b.key, { code: 'SUBMIT_FAILED', message: 'the host did not queue this image' });
            });
          } catch (error) {
            for (const b of batch) failDraft(b.key, errorOf(error));
          }
        }
      };
      const kick = () => {
        submitting ??= submitReady().finally(() => {
          submitting = null;
        });
      };

      for (const key of keys) {
        const source = sources.get(key);
        if (!source || !get().drafts[key]) continue; // dismissed while waiting
        try {
          source.path ??= (await deps.bridge.pathsForFiles([source.file]))[0] ?? null;
          if (!source.path) {
            failDraft(key, { code: 'NO_FILE_PATH', message: `${source.file.name} has no path on disk` });
            continue;
          }
          ready.push({ key, path: source.path });
          kick();
        } catch (error) {
          failDraft(key, errorOf(error));
        }
      }
      while (submitting || ready.length > 0) {
        kick();
        await submitting;
      }
    };

    const setActionError = (jobId: string, error: unknown) =>
      set((s) => ({ actionErrors: { ...s.actionErrors, [jobId]: errorOf(error) } }));
    const clearActionError = (jobId: string) =>
      set((s) => {
        if (!s.actionErrors[jobId]) return {};
        const actionErrors = { ...s.actionErrors };
        delete actionErrors[jobId];
        return { actionErrors };
      });

    return {
      jobs: {},
      live: {},
      previews: {},
      drafts: {},
      queue: [],
      jobsLoaded: false,
      jobsError: null,
      actionErrors: {},
      dropNotice: null,
      finishedVersion: 0,

      async loadJobs() {
        // The host's queue holds this session's jobs; after a restart it is empty, so the
        // latest results come from the history store too (the queue's copy wins).
        const [listed, recent] = await Promise.allSettled([
          deps.bridge.invoke('jobs.list', {}),
          deps.bridge.invoke('history.search', { query: '', limit: RECENT_ON_START, offset: 0 }),
        ]);
        if (listed.status === 'rejected' && recent.status === 'rejected') {
          set({ jobsError: errorOf(listed.reason), jobsLoaded: true });
          return;
        }
        const byId = new Map<string, JobView>();
        if (recent.status === 'fulfilled') for (const job of recent.value.items) byId.set(job.id, job);
        if (listed.status === 'fulfilled') for (const job of listed.value) byId.set(job.id, job);
        set((s) => {
          // Events may have arrived first: what they brought is newer than these lists.
          const jobs = { ...s.jobs };
          for (const job of byId.values()) if (!jobs[job.id]) jobs[job.id] = job;
          const known = new Set(s.queue);
          const fromLists = sortNewestFirst([...byId.values()])
            .map((job) => job.id)
            .filter((id) => !known.has(id));
          return {
            jobs,
            queue: [...s.queue, ...fromLists],
            jobsLoaded: true,
            jobsError: listed.status === 'rejected' ? errorOf(listed.reason) : null,
          };
        });
      },

      clearFinished() {
        const { queue, jobs, drafts } = get();
        for (const key of queue) {
          const draft = drafts[key];
          if (!draft?.error) continue;
          if (draft.previewUrl) deps.previews.revoke(draft.previewUrl);
          sources.delete(key);
        }
        set((s) => {
          const keep = queue.filter((key) => (isDraftKey(key) ? !drafts[key]?.error : !TERMINAL_STATES.has(jobs[key]?.state ?? 'pending')));
          const remaining = new Set(keep);
          const nextDrafts = Object.fromEntries(Object.entries(s.drafts).filter(([key]) => remaining.has(key)));
          return { queue: keep, drafts: nextDrafts };
        });
      },

      async addFiles(files) {
        if (files.length === 0) return;
        const drafts: Draft[] = files.map((file) => ({
          key: `${DRAFT_PREFIX}${++draftCounter}`,
          fileName: file.name,
          previewUrl: deps.previews.create(file),
          error: null,
        }));
        drafts.forEach((d, i) => sources.set(d.key, { file: files[i]!, path: null }));
        // Thumbnails show at once, before any byte has reached the host.
        set((s) => ({
          drafts: { ...s.drafts, ...Object.fromEntries(drafts.map((d) => [d.key, d])) },
          queue: [...drafts.map((d) => d.key), ...s.queue],
        }));
        await ingest(drafts.map((d) => d.key));
      },

      async retryDraft(key) {
        if (!get().drafts[key] || !sources.has(key)) return;
        set((s) => ({ drafts: { ...s.drafts, [key]: { ...s.drafts[key]!, error: null } } }));
        await ingest([key]);
      },

      setDropNotice(notice) {
        set({ dropNotice: notice });
      },

      applyJobUpdate(job) {
        const prev = get().jobs[job.id];
        const stalePreview = job.thumbnail ? get().previews[job.id] : undefined;
        set((s) => {
          const queue = s.queue.includes(job.id) ? s.queue : [job.id, ...s.queue];
          let live = s.live;
          const restarted = prev && TERMINAL_STATES.has(prev.state) && !TERMINAL_STATES.has(job.state);
          if (job.state === 'done' || restarted) {
            live = { ...s.live };
            delete live[job.id];
          }
          let previews = s.previews;
          if (stalePreview) {
            previews = { ...s.previews };
            delete previews[job.id];
          }
          const finished = TERMINAL_STATES.has(job.state) && prev?.state !== job.state;
          return { jobs: { ...s.jobs, [job.id]: job }, queue, live, previews, finishedVersion: s.finishedVersion + (finished ? 1 : 0) };
        });
        // The job's own thumbnail replaces the local preview: free the object URL.
        if (stalePreview) deps.previews.revoke(stalePreview);
        get().refreshHistoryItem(job);
      },

      applyToken({ jobId, part, text }) {
        set((s) => {
          const job = s.jobs[jobId];
          if (job && TERMINAL_STATES.has(job.state)) return {}; // late tokens of a finished job
          const current = s.live[jobId] ?? { description: '', comments: '' };
          return { live: { ...s.live, [jobId]: { ...current, [part]: current[part] + text } } };
        });
      },

      async cancelJob(jobId) {
        clearActionError(jobId);
        try {
          await deps.bridge.invoke('jobs.cancel', { jobId });
        } catch (error) {
          setActionError(jobId, error);
        }
      },

      async cancelAll() {
        try {
          await deps.bridge.invoke('jobs.cancelAll', {});
          set({ jobsError: null });
        } catch (error) {
          set({ jobsError: errorOf(error) });
        }
      },

      async retryJob(jobId) {
        clearActionError(jobId);
        try {
          const { jobId: newId } = await deps.bridge.invoke('jobs.retry', { jobId });
          set((s) => {
            const live = { ...s.live };
            delete live[newId];
            if (newId === jobId) return { live };
            // A retry under a new id takes the old card's place (the old result stays in the history).
            const old = s.jobs[jobId];
            const queue = s.queue.filter((k) => k !== newId).map((k) => (k === jobId ? newId : k));
            const jobs = s.jobs[newId] ? s.jobs : { ...s.jobs, [newId]: placeholderJob(newId, old?.imageName ?? '', Date.now()) };
            if (!s.jobs[newId] && old) jobs[newId] = { ...jobs[newId]!, thumbnail: old.thumbnail };
            const previews = s.previews[jobId] ? { ...s.previews, [newId]: s.previews[jobId]! } : s.previews;
            return { live, queue, jobs, previews };
          });
        } catch (error) {
          setActionError(jobId, error);
        }
      },

      async editJob(jobId, description, comments) {
        clearActionError(jobId);
        try {
          const job = await deps.bridge.invoke('jobs.edit', { jobId, description, comments });
          get().applyJobUpdate(job);
          return true;
        } catch (error) {
          setActionError(jobId, error);
          return false;
        }
      },

      dismissDraft(key) {
        const draft = get().drafts[key];
        if (!draft) return;
        if (draft.previewUrl) deps.previews.revoke(draft.previewUrl);
        sources.delete(key);
        set((s) => {
          const drafts = { ...s.drafts };
          delete drafts[key];
          return { drafts, queue: s.queue.filter((k) => k !== key) };
        });
      },
    };
  };
