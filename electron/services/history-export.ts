// History export: JSON (every field but the thumbnail) and CSV (RFC 4180: fields with a comma,
// quote, CR or LF are quoted, quotes doubled; CRLF between records; a UTF-8 BOM so that
// spreadsheet apps read Japanese text as UTF-8). Model output is untrusted text: a cell that a
// spreadsheet would run as a formula (=, +, @, tab, CR, or - followed by a non-space) is
// prefixed with an apostrophe (OWASP "CSV injection"); a bullet "- item" stays as it is.
import type { JobRecord } from './job-record.js';

export type ExportFormat = 'json' | 'csv';

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function exportJson(jobs: JobRecord[]): string {
  const items = jobs.map((j) => ({
    id: j.id,
    batchId: j.batchId,
    retryOf: j.retryOf,
    state: j.state,
    image: { path: j.imagePath, name: j.imageName, sha256: j.imageHash, bytes: j.imageBytes, width: j.imageWidth, height: j.imageHeight },
    model: { id: j.modelId, path: j.modelPath, mmprojPath: j.mmprojPath },
    settings: j.settings,
    description: j.description,
    comments: j.comments,
    error: j.error,
    timings: j.timings,
    createdAt: iso(j.createdAt),
    startedAt: iso(j.startedAt),
    finishedAt: iso(j.finishedAt),
    editedAt: iso(j.editedAt),
  }));
  return JSON.stringify({ kotaroHistory: 1, exportedAt: new Date().toISOString(), items }, null, 2) + '\n';
}

const FORMULA_START = /^(?:[=+@\t\r]|-(?!\s|$))/;

/** One CSV field: neutralised if it would run as a formula, quoted when it must be. */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'number' ? String(value) : value;
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const CSV_COLUMNS = [
  'id', 'created_at', 'finished_at', 'state', 'image_name', 'image_path', 'image_sha256', 'model_id',
  'description', 'comments', 'error_code', 'error_message', 'total_ms', 'decode_tokens_per_second', 'retry_of',
] as const;

export function exportCsv(jobs: JobRecord[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const j of jobs) {
    const row: Array<string | number | null | undefined> = [
      j.id, iso(j.createdAt), iso(j.finishedAt), j.state, j.imageName, j.imagePath, j.imageHash, j.modelId,
      j.description, j.comments.join('\n'), j.error?.code, j.error?.message,
      j.timings.totalMs === undefined ? null : Math.round(j.timings.totalMs),
      j.timings.decodeTokensPerSecond === undefined ? null : Number(j.timings.decodeTokensPerSecond.toFixed(2)),
      j.retryOf,
    ];
    lines.push(row.map(csvField).join(','));
  }
  return '\ufeff' + lines.join('\r\n') + '\r\n';
}

export function exportFilename(format: ExportFormat, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  return `kotaro-history-${stamp}.${format}`;
}
