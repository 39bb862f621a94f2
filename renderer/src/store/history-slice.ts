// Past results: a searchable page of the history store (history.search), re-opening one
// result in full, and exports (history.export; the view turns the content into a file).
import type { StateCreator } from 'zustand';
import type { BridgeResult, JobView } from '../../../electron/contract/bridge';
import { errorOf } from '../util/format';
import type { ErrorInfo, StoreDeps } from './deps';
import type { KotaroState } from './types';

export const HISTORY_PAGE = 50;

export interface HistorySlice {
  historyQuery: string;
  historyItems: JobView[];
  historyTotal: number;
  historyLoading: boolean;
  historyError: ErrorInfo | null;
  /** The result re-opened from the history, shown in full. */
  openedJobId: string | null;
  searchHistory(query: string): Promise<void>;
  loadMoreHistory(): Promise<void>;
  exportHistory(format: 'json' | 'csv'): Promise<BridgeResult<'history.export'> | null>;
  openHistoryJob(jobId: string | null): void;
  /** Keeps a listed item in step when its job changes (an edit, a regeneration). */
  refreshHistoryItem(job: JobView): void;
}

export const createHistorySlice =
  (deps: StoreDeps): StateCreator<KotaroState, [], [], HistorySlice> =>
  (set, get) => {
    // Only the answer to the latest search may land (typing fires several searches).
    let searchSeq = 0;
    return {
      historyQuery: '',
      historyItems: [],
      historyTotal: 0,
      historyLoading: false,
      historyError: null,
      openedJobId: null,

      async searchHistory(query) {
        const seq = ++searchSeq;
        set({ historyQuery: query, historyLoading: true });
        try {
          const page = await deps.bridge.invoke('history.search', { query, limit: HISTORY_PAGE, offset: 0 });
          if (seq !== searchSeq) return;
          set({ historyItems: page.items, historyTotal: page.total, historyLoading: false, historyError: null });
        } catch (error) {
          if (seq !== searchSeq) return;
          set({ historyLoading: false, historyError: errorOf(error) });
        }
      },

      async loadMoreHistory() {
        const { historyQuery: query, historyItems } = get();
        const seq = ++searchSeq;
        set({ historyLoading: true });
        try {
          const page = await deps.bridge.invoke('history.search', { query, limit: HISTORY_PAGE, offset: historyItems.length });
          if (seq !== searchSeq) return;
          const seen = new Set(historyItems.map((j) => j.id));
          set({
            historyItems: [...historyItems, ...page.items.filter((j) => !seen.has(j.id))],
            historyTotal: page.total,
            historyLoading: false,
            historyError: null,
          });
        } catch (error) {
          if (seq !== searchSeq) return;
          set({ historyLoading: false, historyError: errorOf(error) });
        }
      },

      async exportHistory(format) {
        try {
          const file = await deps.bridge.invoke('history.export', { format, query: get().historyQuery });
          set({ historyError: null });
          return file;
        } catch (error) {
          set({ historyError: errorOf(error) });
          return null;
        }
      },

      openHistoryJob(jobId) {
        set({ openedJobId: jobId });
      },

      refreshHistoryItem(job) {
        const items = get().historyItems;
        const i = items.findIndex((j) => j.id === job.id);
        if (i < 0) return;
        const next = items.slice();
        next[i] = job;
        set({ historyItems: next });
      },
    };
  };
