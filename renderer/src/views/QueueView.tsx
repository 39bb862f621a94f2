// The queue: the drop zone, counts, and a card per image (newest batch first).
import { useShallow } from 'zustand/react/shallow';
import { useT } from '../i18n/use-t';
import { isDraftKey } from '../store/job-records';
import { useKotaro } from '../store/react';
import type { KotaroState } from '../store';
import { DropZone } from './DropZone';
import { DraftCard, JobCard } from './JobCard';

function selectCounts(s: KotaroState) {
  let waiting = 0;
  let running = 0;
  let done = 0;
  let failed = 0;
  let cancelled = 0;
  for (const key of s.queue) {
    if (isDraftKey(key)) {
      if (s.drafts[key]?.error) failed++;
      else waiting++;
      continue;
    }
    const state = s.jobs[key]?.state;
    if (state === 'pending') waiting++;
    else if (state === 'running') running++;
    else if (state === 'done') done++;
    else if (state === 'failed') failed++;
    else if (state === 'cancelled') cancelled++;
  }
  return { waiting, running, done, failed, cancelled };
}

export function QueueView() {
  const t = useT();
  const queue = useKotaro((s) => s.queue);
  const drafts = useKotaro((s) => s.drafts);
  const counts = useKotaro(useShallow(selectCounts));
  const jobsError = useKotaro((s) => s.jobsError);
  const cancelAll = useKotaro((s) => s.cancelAll);
  const clearFinished = useKotaro((s) => s.clearFinished);
  const modelState = useKotaro((s) => s.modelStatus?.state);
  const setView = useKotaro((s) => s.setView);
  const noModel = modelState === 'unloaded' || modelState === 'error';

  return (
    <div className="queue-view">
      <DropZone compact={queue.length > 0} />
      {noModel ? (
        <div className="notice" role="status" data-testid="no-model-notice">
          <p>{t('drop.noModel')}</p>
          <button type="button" onClick={() => setView('models')}>
            {t('drop.openModels')}
          </button>
        </div>
      ) : null}
      {jobsError ? (
        <p className="job-error" role="alert">
          {t('queue.loadError', { message: jobsError.message })}
        </p>
      ) : null}
      <div className="queue-toolbar">
        <p className="queue-counts" data-testid="queue-counts" aria-live="polite">
          {t('queue.counts', counts)}
        </p>
        <button type="button" disabled={counts.done + counts.failed + counts.cancelled === 0} onClick={clearFinished} data-testid="clear-finished">
          {t('queue.clearFinished')}
        </button>
        <button type="button" className="danger" disabled={counts.waiting + counts.running === 0} onClick={() => void cancelAll()}>
          {t('queue.cancelAll')}
        </button>
      </div>
      <section aria-label={t('queue.label')} className="job-list" data-testid="job-list">
        {queue.length === 0 ? <p className="empty">{t('queue.empty')}</p> : null}
        {queue.map((key) => {
          if (!isDraftKey(key)) return <JobCard key={key} jobId={key} />;
          const draft = drafts[key];
          return draft ? <DraftCard key={key} draft={draft} /> : null;
        })}
      </section>
    </div>
  );
}
