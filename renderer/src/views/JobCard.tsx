// One image and its result: thumbnail, state, progress, the description and comments as
// they stream, and what can be done with them (copy, edit, regenerate, cancel).
import { useEffect, useId, useState } from 'react';
import type { JobView } from '../../../electron/contract/bridge';
import type { MessageKey } from '../i18n';
import { useT } from '../i18n/use-t';
import type { Draft } from '../store/jobs-slice';
import { displayedText, resultAsText } from '../store/job-records';
import { useKotaro } from '../store/react';
import { formatMs, formatRate } from '../util/format';

const stateKeys: Record<JobView['state'] | 'uploading', MessageKey> = {
  uploading: 'state.uploading',
  pending: 'state.pending',
  running: 'state.running',
  done: 'state.done',
  failed: 'state.failed',
  cancelled: 'state.cancelled',
};

function StateBadge({ state }: { state: keyof typeof stateKeys }) {
  const t = useT();
  return (
    <span className={`badge state-${state}`} data-testid="job-state" data-state={state}>
      {t(stateKeys[state])}
    </span>
  );
}

function ErrorLine({ code, message }: { code: string; message: string }) {
  const t = useT();
  const text = code === 'NO_FILE_PATH' ? t('job.noPath') : t('job.error', { code, message });
  return (
    <p className="job-error" role="alert" data-testid="job-error">
      {text}
    </p>
  );
}

function CopyButton({ text, label }: { text: string; label: string }) {
  const t = useT();
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 1500);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      disabled={!text}
      aria-label={label}
      onClick={() => void navigator.clipboard.writeText(text).then(() => setCopied(true), () => undefined)}
    >
      {copied ? t('job.copied') : t('job.copy')}
    </button>
  );
}

/** A card for a job the host knows. */
export function JobCard({ jobId, fallback }: { jobId: string; fallback?: JobView }) {
  const t = useT();
  const job = useKotaro((s) => s.jobs[jobId]) ?? fallback;
  const live = useKotaro((s) => s.live[jobId]);
  const preview = useKotaro((s) => s.previews[jobId]);
  const actionError = useKotaro((s) => s.actionErrors[jobId]);
  const cancelJob = useKotaro((s) => s.cancelJob);
  const retryJob = useKotaro((s) => s.retryJob);
  const [editing, setEditing] = useState(false);
  if (!job) return null;

  const shown = displayedText(job, live);
  const active = job.state === 'pending' || job.state === 'running';
  const image = job.thumbnail ?? preview ?? null;
  const t0 = job.timings;

  return (
    <article className={`job-card state-${job.state}`} aria-label={t('job.card', { name: job.imageName })} data-testid="job-card" data-job-id={job.id} data-state={job.state}>
      <Thumbnail src={image} name={job.imageName} />
      <div className="job-body">
        <header className="job-header">
          <h3 className="job-name" title={job.imagePath || job.imageName}>
            {job.imageName}
          </h3>
          <StateBadge state={job.state} />
        </header>
        {active ? (
          <progress
            className="job-progress"
            aria-label={t('job.progress', { name: job.imageName })}
            max={1}
            value={job.state === 'running' ? job.progress : undefined}
            data-testid="job-progress"
          />
        ) : null}
        {editing ? (
          <EditForm job={job} onClose={() => setEditing(false)} />
        ) : (
          <ResultText description={shown.description} comments={shown.comments} streaming={shown.streaming} waiting={active && !shown.description} />
        )}
        {job.error ? <ErrorLine code={job.error.code} message={job.error.message} /> : null}
        {actionError ? <ErrorLine code={actionError.code} message={actionError.message} /> : null}
        {job.state === 'done' && t0.totalMs !== undefined ? (
          <p className="job-timings" data-testid="job-timings">
            {t('job.timings', { ttft: formatMs(t0.firstTokenMs), tps: formatRate(t0.decodeTokensPerSecond), total: formatMs(t0.totalMs) })}
          </p>
        ) : null}
        {!editing ? (
          <div className="job-actions">
            {job.state === 'done' ? <CopyButton text={resultAsText(shown.description, shown.comments)} label={`${t('job.copy')}: ${job.imageName}`} /> : null}
            {job.state === 'done' ? (
              <button type="button" onClick={() => setEditing(true)} aria-label={`${t('job.edit')}: ${job.imageName}`}>
                {t('job.edit')}
              </button>
            ) : null}
            {!active ? (
              <button type="button" onClick={() => void retryJob(job.id)} aria-label={`${t('job.regenerate')}: ${job.imageName}`} data-testid="job-retry">
                {t('job.regenerate')}
              </button>
            ) : null}
            {active ? (
              <button type="button" className="danger" onClick={() => void cancelJob(job.id)} aria-label={`${t('job.cancel')}: ${job.imageName}`} data-testid="job-cancel">
                {t('job.cancel')}
              </button>
            ) : null}
          </div>
        ) : null}
      </div>
    </article>
  );
}

/** A card for an image still uploading, or whose upload failed. */
export function DraftCard({ draft }: { draft: Draft }) {
  const t = useT();
  const dismiss = useKotaro((s) => s.dismissDraft);
  const retryDraft = useKotaro((s) => s.retryDraft);
  const state = draft.error ? 'failed' : 'uploading';
  return (
    <article className={`job-card state-${state}`} aria-label={t('job.card', { name: draft.fileName })} data-testid="job-card" data-state={state}>
      <Thumbnail src={draft.previewUrl} name={draft.fileName} />
      <div className="job-body">
        <header className="job-header">
          <h3 className="job-name">{draft.fileName}</h3>
          <StateBadge state={state} />
        </header>
        {draft.error ? (
          <>
            <ErrorLine code={draft.error.code} message={draft.error.message} />
            <div className="job-actions">
              <button type="button" onClick={() => void retryDraft(draft.key)} aria-label={`${t('job.retryUpload')}: ${draft.fileName}`}>
                {t('job.retryUpload')}
              </button>
              <button type="button" onClick={() => dismiss(draft.key)} aria-label={`${t('job.dismiss')}: ${draft.fileName}`}>
                {t('job.dismiss')}
              </button>
            </div>
          </>
        ) : (
          <progress className="job-progress" aria-label={t('job.progress', { name: draft.fileName })} />
        )}
      </div>
    </article>
  );
}

function Thumbnail({ src, name }: { src: string | null; name: string }) {
  const t = useT();
  // The browser cannot show every file it was given (a corrupt file, HEIC, TIFF): the
  // placeholder stands in until the job's own thumbnail (made by the host) arrives.
  const [failedSrc, setFailedSrc] = useState<string | null>(null);
  const show = src !== null && src !== failedSrc;
  return (
    <div className="job-thumb">
      {show ? (
        <img src={src} alt={t('job.thumbnail', { name })} loading="lazy" decoding="async" onError={() => setFailedSrc(src)} />
      ) : (
        <span aria-hidden="true">🖼</span>
      )}
    </div>
  );
}

function ResultText({ description, comments, streaming, waiting }: { description: string; comments: string[]; streaming: boolean; waiting: boolean }) {
  const t = useT();
  if (waiting) return <p className="job-waiting">{t('job.waitingText')}</p>;
  if (!description && comments.length === 0) return null;
  return (
    <div className={`job-result${streaming ? ' streaming' : ''}`} aria-live={streaming ? 'off' : undefined} aria-busy={streaming}>
      <h4>{t('job.description')}</h4>
      <p className="job-description" data-testid="job-description">
        {description}
      </p>
      {comments.length > 0 ? (
        <>
          <h4>{t('job.comments')}</h4>
          <ol className="job-comments" data-testid="job-comments">
            {comments.map((comment, i) => (
              <li key={i}>{comment}</li>
            ))}
          </ol>
        </>
      ) : null}
    </div>
  );
}

function EditForm({ job, onClose }: { job: JobView; onClose: () => void }) {
  const t = useT();
  const editJob = useKotaro((s) => s.editJob);
  const [description, setDescription] = useState(job.description);
  const [comments, setComments] = useState(job.comments.join('\n'));
  const [saving, setSaving] = useState(false);
  const descriptionId = useId();
  const commentsId = useId();
  const save = async () => {
    setSaving(true);
    const lines = comments.split('\n').map((c) => c.trim()).filter((c) => c.length > 0);
    const ok = await editJob(job.id, description, lines);
    setSaving(false);
    if (ok) onClose();
  };
  return (
    <form
      className="job-edit"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <label htmlFor={descriptionId}>{t('job.editDescription')}</label>
      <textarea id={descriptionId} value={description} rows={4} onChange={(e) => setDescription(e.target.value)} autoFocus />
      <label htmlFor={commentsId}>{t('job.editComments')}</label>
      <textarea id={commentsId} value={comments} rows={4} onChange={(e) => setComments(e.target.value)} />
      <div className="job-actions">
        <button type="submit" className="primary" disabled={saving}>
          {t('job.save')}
        </button>
        <button type="button" onClick={onClose}>
          {t('job.discard')}
        </button>
      </div>
    </form>
  );
}
