import { describe, expect, it } from 'vitest';
import { FakeBridge, job } from './fake-bridge';
import { makeStore } from './store-harness';

const all = Array.from({ length: 120 }, (_, i) => job({ id: `h${i}`, state: 'done', description: i % 2 ? `a dog ${i}` : `a cat ${i}` }));

function historyBridge() {
  return new FakeBridge()
    .handle('history.search', ({ query, limit, offset }) => {
      const hits = all.filter((j) => j.description.includes(query));
      return { items: hits.slice(offset, offset + limit), total: hits.length };
    })
    .handle('history.export', ({ format, query }) => ({ filename: `kotaro-history.${format}`, content: `${format}:${query}` }));
}

describe('history slice', () => {
  it('searches, pages with load more, and exports what the search shows', async () => {
    const bridge = historyBridge();
    const { state } = makeStore({ bridge });
    await state().searchHistory('cat');
    expect(state().historyTotal).toBe(60);
    expect(state().historyItems).toHaveLength(50);
    await state().loadMoreHistory();
    expect(state().historyItems).toHaveLength(60);
    expect(new Set(state().historyItems.map((j) => j.id)).size).toBe(60);
    expect(bridge.callsOf('history.search')).toEqual([
      { query: 'cat', limit: 50, offset: 0 },
      { query: 'cat', limit: 50, offset: 50 },
    ]);
    expect(await state().exportHistory('csv')).toEqual({ filename: 'kotaro-history.csv', content: 'csv:cat' });
    expect(bridge.callsOf('history.export')).toEqual([{ format: 'csv', query: 'cat' }]);
  });

  it('only the latest of overlapping searches lands', async () => {
    const releases: Array<() => void> = [];
    const bridge = new FakeBridge().handle('history.search', async ({ query }) => {
      await new Promise<void>((r) => releases.push(r));
      return { items: [job({ id: query })], total: 1 };
    });
    const { state } = makeStore({ bridge });
    const first = state().searchHistory('c');
    const second = state().searchHistory('ca');
    releases[1]!();
    await second;
    releases[0]!();
    await first;
    expect(state().historyItems.map((j) => j.id)).toEqual(['ca']);
    expect(state().historyLoading).toBe(false);
  });

  it('shows a failed search or export', async () => {
    const bridge = new FakeBridge()
      .handle('history.search', () => {
        throw Object.assign(new Error('database is locked'), { code: 'HISTORY_UNAVAILABLE' });
      })
      .handle('history.export', () => {
        throw Object.assign(new Error('nothing to export'), { code: 'EMPTY' });
      });
    const { state } = makeStore({ bridge });
    await state().searchHistory('x');
    expect(state().historyError?.code).toBe('HISTORY_UNAVAILABLE');
    expect(await state().exportHistory('json')).toBeNull();
    expect(state().historyError?.code).toBe('EMPTY');
  });

  it('keeps a listed result in step with its job (an edit) and re-opens it', async () => {
    const { state } = makeStore({ bridge: historyBridge() });
    await state().searchHistory('dog');
    const first = state().historyItems[0]!;
    state().applyJobUpdate({ ...first, description: 'edited' });
    expect(state().historyItems[0]!.description).toBe('edited');
    state().openHistoryJob(first.id);
    expect(state().openedJobId).toBe(first.id);
    state().openHistoryJob(null);
    expect(state().openedJobId).toBeNull();
  });
});
