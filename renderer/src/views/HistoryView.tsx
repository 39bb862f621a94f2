// History: past results, searched as you type, one re-opened in full, and exports of what
// the search shows (history.export → a file download).
import { useEffect, useId, useState } from 'react';
import type { JobView } from '../../../electron/contract/bridge';
import { useT, useLanguage } from '../i18n/use-t';
import { useKotaro } from '../store/react';
import { downloadText, mimeFor } from '../util/download';
import { JobCard } from './JobCard';

const SEARCH_DELAY_MS = 250;

export function HistoryView() {
  const t = useT();
  const language = useLanguage();
  const query = useKotaro((s) => s.historyQuery);
  const items = useKotaro((s) => s.historyItems);
  const total = useKotaro((s) => s.historyTotal);
  const loading = useKotaro((s) => s.historyLoading);
  const error = useKotaro((s) => s.historyError);
  const openedJobId = useKotaro((s) => s.openedJobId);
  const searchHistory = useKotaro((s) => s.searchHistory);
  const loadMore = useKotaro((s) => s.loadMoreHistory);
  const exportHistory = useKotaro((s) => s.exportHistory);
  const openJob = useKotaro((s) => s.openHistoryJob);
  const finishedVersion = useKotaro((s) => s.finishedVersion);
  const [text, setText] = useState(query);
  const searchId = useId();

  // Search as the user types, once typing pauses; again when the view opens and when a
  // job finishes, so new results show up here.
  useEffect(() => {
    const timer = setTimeout(() => void searchHistory(text.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text, searchHistory, finishedVersion]);

  const doExport = async (format: 'json' | 'csv') => {
    const file = await exportHistory(format);
    if (file) downloadText(file.filename, file.content, mimeFor(format));
  };
  const opened = openedJobId ? items.find((j) => j.id === openedJobId) : undefined;
  const dateFormat = new Intl.DateTimeFormat(language === 'ja' ? 'ja-JP' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' });

  return (
    <div className="history-view">
      <div className="view-toolbar">
        <h2>{t('history.label')}</h2>
        <label htmlFor={searchId} className="visually-hidden">
          {t('history.search')}
        </label>
        <input
          id={searchId}
          type="search"
          className="search"
          value={text}
          placeholder={t('history.searchPlaceholder')}
          onChange={(e) => setText(e.target.value)}
          data-testid="history-search"
        />
        <button type="button" onClick={() => void doExport('json')} data-testid="export-json">
          {t('history.exportJson')}
        </button>
        <button type="button" onClick={() => void doExport('csv')} data-testid="export-csv">
          {t('history.exportCsv')}
        </button>
      </div>
      {error ? (
        <p className="job-error" role="alert">
          {t('history.error', { message: error.message })}
        </p>
      ) : null}
      <p className="queue-counts" aria-live="polite" data-testid="history-total">
        {t('history.total', { count: total })}
      </p>
      {opened || openedJobId ? (
        <section className="history-opened" aria-label={opened ? t('job.card', { name: opened.imageName }) : undefined}>
          <div className="view-toolbar">
            <button type="button" onClick={() => openJob(null)} autoFocus>
              {t('history.close')}
            </button>
          </div>
          <JobCard jobId={openedJobId!} fallback={opened} />
        </section>
      ) : null}
      {items.length === 0 && !loading ? <p className="empty">{t('history.empty')}</p> : null}
      <ul className="history-list" data-testid="history-list" aria-busy={loading}>
        {items.map((job) => (
          <HistoryRow key={job.id} job={job} date={dateFormat.format(job.finishedAt ?? job.createdAt)} onOpen={() => openJob(job.id)} />
        ))}
      </ul>
      {items.length < total ? (
        <button type="button" onClick={() => void loadMore()} disabled={loading}>
          {t('history.more')}
        </button>
      ) : null}
    </div>
  );
}

function HistoryRow({ job, date, onOpen }: { job: JobView; date: string; onOpen: () => void }) {
  const t = useT();
  return (
    <li className="history-row" data-testid="history-row" data-job-id={job.id}>
      <div className="job-thumb small">{job.thumbnail ? <img src={job.thumbnail} alt={t('job.thumbnail', { name: job.imageName })} loading="lazy" /> : null}</div>
      <div className="history-text">
        <div className="history-title">
          <span className="job-name">{job.imageName}</span>
          <span className={`badge state-${job.state}`}>{t(`state.${job.state}`)}</span>
          <time className="muted">{date}</time>
        </div>
        <p className="history-snippet">{job.description || job.error?.message || ''}</p>
      </div>
      <button type="button" onClick={onOpen} aria-label={`${t('history.open')}: ${job.imageName}`}>
        {t('history.open')}
      </button>
    </li>
  );
}
