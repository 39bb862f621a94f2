// The history of every job, in SQLite (better-sqlite3, WAL). The queue writes a job here before
// it is sent to the worker and again when it ends, with synchronous=FULL, so a crash of the
// worker or of the host itself loses nothing: at the next start, jobs whose owning process is
// gone are marked failed with the cause INTERRUPTED. Text search is FTS5 with the trigram
// tokenizer (Japanese has no spaces between words; trigrams find any substring of 3+ chars),
// shorter terms fall back to LIKE. The schema evolves through numbered migrations recorded in
// PRAGMA user_version.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { JobState, JobTimings, Settings } from '../contract/bridge.js';
import type { JobError, JobRecord } from './job-record.js';
import { ServiceError } from './service-error.js';

export const HISTORY_FILE = 'history.sqlite';

/** Each entry moves the schema from version i to i+1. Never edit a released entry: append. */
const MIGRATIONS: ReadonlyArray<(db: Database.Database) => void> = [
  (db) => {
    db.exec(`
      CREATE TABLE jobs (
        seq           INTEGER PRIMARY KEY,           -- submission order; also the FTS rowid
        id            TEXT NOT NULL UNIQUE,
        batch_id      TEXT NOT NULL,
        state         TEXT NOT NULL CHECK (state IN ('pending','running','done','failed','cancelled')),
        image_path    TEXT NOT NULL,
        image_name    TEXT NOT NULL,
        image_hash    TEXT,
        image_bytes   INTEGER,
        image_width   INTEGER,
        image_height  INTEGER,
        thumbnail     TEXT,
        model_id      TEXT,
        model_path    TEXT,
        mmproj_path   TEXT,
        settings_json TEXT,
        description   TEXT NOT NULL DEFAULT '',
        comments_json TEXT NOT NULL DEFAULT '[]',
        stream_text   TEXT NOT NULL DEFAULT '',
        error_code    TEXT,
        error_message TEXT,
        timings_json  TEXT NOT NULL DEFAULT '{}',
        retry_of      TEXT,
        owner_pid     INTEGER,
        created_at    INTEGER NOT NULL,
        started_at    INTEGER,
        finished_at   INTEGER,
        edited_at     INTEGER
      );
      CREATE INDEX jobs_by_state ON jobs(state);
      CREATE INDEX jobs_by_hash ON jobs(image_hash);
      CREATE VIRTUAL TABLE jobs_fts USING fts5(
        image_name, image_path, description, comments_json,
        content='jobs', content_rowid='seq', tokenize='trigram case_sensitive 0'
      );
      CREATE TRIGGER jobs_fts_insert AFTER INSERT ON jobs BEGIN
        INSERT INTO jobs_fts(rowid, image_name, image_path, description, comments_json)
        VALUES (new.seq, new.image_name, new.image_path, new.description, new.comments_json);
      END;
      CREATE TRIGGER jobs_fts_delete AFTER DELETE ON jobs BEGIN
        INSERT INTO jobs_fts(jobs_fts, rowid, image_name, image_path, description, comments_json)
        VALUES ('delete', old.seq, old.image_name, old.image_path, old.description, old.comments_json);
      END;
      CREATE TRIGGER jobs_fts_update AFTER UPDATE OF image_name, image_path, description, comments_json ON jobs BEGIN
        INSERT INTO jobs_fts(jobs_fts, rowid, image_name, image_path, description, comments_json)
        VALUES ('delete', old.seq, old.image_name, old.image_path, old.description, old.comments_json);
        INSERT INTO jobs_fts(rowid, image_name, image_path, description, comments_json)
        VALUES (new.seq, new.image_name, new.image_path, new.description, new.comments_json);
      END;
    `);
  },
];

export const HISTORY_SCHEMA_VERSION = MIGRATIONS.length;

interface Row {
  seq: number;
  id: string;
  batch_id: string;
  state: JobState;
  image_path: string;
  image_name: string;
  image_hash: string | null;
  image_bytes: number | null;
  image_width: number | null;
  image_height: number | null;
  thumbnail: string | null;
  model_id: string | null;
  model_path: string | null;
  mmproj_path: string | null;
  settings_json: string | null;
  description: string;
  comments_json: string;
  stream_text: string;
  error_code: string | null;
  error_message: string | null;
  timings_json: string;
  retry_of: string | null;
  owner_pid: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  edited_at: number | null;
}

/** The fields of a record that may change after insertion, and their columns. */
const UPDATABLE = {
  state: 'state',
  imageHash: 'image_hash',
  imageBytes: 'image_bytes',
  imageWidth: 'image_width',
  imageHeight: 'image_height',
  thumbnail: 'thumbnail',
  modelId: 'model_id',
  modelPath: 'model_path',
  mmprojPath: 'mmproj_path',
  settings: 'settings_json',
  description: 'description',
  comments: 'comments_json',
  streamText: 'stream_text',
  error: null, // two columns
  timings: 'timings_json',
  ownerPid: 'owner_pid',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  editedAt: 'edited_at',
} as const;
export type JobPatch = Partial<Pick<JobRecord, keyof typeof UPDATABLE>>;

function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function fromRow(row: Row): JobRecord {
  return {
    id: row.id,
    batchId: row.batch_id,
    state: row.state,
    imagePath: row.image_path,
    imageName: row.image_name,
    imageHash: row.image_hash,
    imageBytes: row.image_bytes,
    imageWidth: row.image_width,
    imageHeight: row.image_height,
    thumbnail: row.thumbnail,
    modelId: row.model_id,
    modelPath: row.model_path,
    mmprojPath: row.mmproj_path,
    settings: parseJson<Settings | null>(row.settings_json, null),
    description: row.description,
    comments: parseJson<string[]>(row.comments_json, []),
    streamText: row.stream_text,
    progress: row.state === 'done' ? 1 : 0,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    timings: parseJson<Partial<JobTimings>>(row.timings_json, {}),
    retryOf: row.retry_of,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    editedAt: row.edited_at,
    ownerPid: row.owner_pid,
  };
}

function columnValue(key: keyof typeof UPDATABLE, value: unknown): unknown {
  switch (key) {
    case 'settings':
      return value === null ? null : JSON.stringify(value);
    case 'comments':
    case 'timings':
      return JSON.stringify(value);
    default:
      return value;
  }
}

/** Is the process with this pid alive? (Used to tell a crashed host's jobs from a live one's.) */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface SearchQuery {
  query: string;
  limit: number;
  offset: number;
}

/** Builds the WHERE clause of a text search: FTS5 phrases for terms of 3+ characters, LIKE for shorter ones. */
function searchClause(query: string): { where: string; params: unknown[] } {
  const terms = query.trim().split(/\s+/u).filter((t) => t.length > 0).slice(0, 20);
  if (terms.length === 0) return { where: '1', params: [] };
  const parts: string[] = [];
  const params: unknown[] = [];
  const long = terms.filter((t) => [...t].length >= 3);
  if (long.length > 0) {
    // Each term is one quoted phrase (quotes doubled): FTS operators typed by the user stay text.
    parts.push('seq IN (SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH ?)');
    params.push(long.map((t) => `"${t.replace(/"/g, '""')}"`).join(' AND '));
  }
  for (const term of terms.filter((t) => [...t].length < 3)) {
    const like = `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    parts.push(`(image_name LIKE ? ESCAPE '\\' OR image_path LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\' OR comments_json LIKE ? ESCAPE '\\')`);
    params.push(like, like, like, like);
  }
  return { where: parts.join(' AND '), params };
}

export class HistoryStore {
  private readonly db: Database.Database;
  readonly file: string;
  /** How many jobs the start-up recovery marked INTERRUPTED. */
  readonly recovered: number;

  private constructor(file: string) {
    this.file = file;
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    try {
      // Electron's main process runs another Node ABI than plain Node (tests, kotaro serve):
      // electron/main.ts points KOTARO_SQLITE_BINDING at a better-sqlite3 built for Electron.
      const nativeBinding = process.env.KOTARO_SQLITE_BINDING;
      this.db = new Database(file, nativeBinding ? { nativeBinding } : {});
      this.db.pragma('journal_mode = WAL');
      // FULL: a commit is on disk before the job is handed to the worker, even if the machine dies.
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      throw new ServiceError('HISTORY_UNAVAILABLE', `cannot open the history database ${file}: ${(error as Error).message}`);
    }
    this.recovered = this.recoverInterrupted();
  }

  static open(dataDir: string): HistoryStore {
    return new HistoryStore(join(dataDir, HISTORY_FILE));
  }

  static openFile(file: string): HistoryStore {
    return new HistoryStore(file);
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private migrate(): void {
    const version = this.schemaVersion;
    if (version > MIGRATIONS.length) {
      throw new ServiceError('HISTORY_TOO_NEW', `the history database ${this.file} was written by a newer Kotaro (schema ${version}, this one knows ${MIGRATIONS.length}); update Kotaro`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        MIGRATIONS[v]!(this.db);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /**
   * Jobs left pending or running by a host that is gone (crashed, killed, power loss) become
   * failed with the cause INTERRUPTED; they stay in the history and can be retried. A host that
   * is still running (the app while the CLI starts) keeps its jobs.
   */
  private recoverInterrupted(): number {
    const rows = this.db.prepare(`SELECT id, state, owner_pid FROM jobs WHERE state IN ('pending','running')`).all() as Array<{ id: string; state: JobState; owner_pid: number | null }>;
    const orphans = rows.filter((r) => r.owner_pid === null || !processAlive(r.owner_pid));
    if (orphans.length === 0) return 0;
    const now = Date.now();
    const mark = this.db.prepare(`UPDATE jobs SET state = 'failed', error_code = 'INTERRUPTED', error_message = ?, finished_at = ?, owner_pid = NULL WHERE id = ?`);
    this.db.transaction(() => {
      for (const r of orphans) {
        const why = r.state === 'running'
          ? 'interrupted: Kotaro stopped while this image was being analysed'
          : 'interrupted: Kotaro stopped before this image was analysed';
        mark.run(why, now, r.id);
      }
    })();
    return orphans.length;
  }

  insert(jobs: JobRecord[]): void {
    const stmt = this.db.prepare(`
      INSERT INTO jobs (id, batch_id, state, image_path, image_name, image_hash, image_bytes, image_width, image_height,
        thumbnail, model_id, model_path, mmproj_path, settings_json, description, comments_json, stream_text,
        error_code, error_message, timings_json, retry_of, owner_pid, created_at, started_at, finished_at, edited_at)
      VALUES (@id, @batchId, @state, @imagePath, @imageName, @imageHash, @imageBytes, @imageWidth, @imageHeight,
        @thumbnail, @modelId, @modelPath, @mmprojPath, @settings, @description, @comments, @streamText,
        @errorCode, @errorMessage, @timings, @retryOf, @ownerPid, @createdAt, @startedAt, @finishedAt, @editedAt)`);
    this.db.transaction(() => {
      for (const j of jobs) {
        stmt.run({
          id: j.id, batchId: j.batchId, state: j.state, imagePath: j.imagePath, imageName: j.imageName,
          imageHash: j.imageHash, imageBytes: j.imageBytes, imageWidth: j.imageWidth, imageHeight: j.imageHeight,
          thumbnail: j.thumbnail, modelId: j.modelId, modelPath: j.modelPath, mmprojPath: j.mmprojPath,
          settings: j.settings === null ? null : JSON.stringify(j.settings),
          description: j.description,
          comments: JSON.stringify(j.comments),
          streamText: j.streamText,
          errorCode: j.error?.code ?? null,
          errorMessage: j.error?.message ?? null,
          timings: JSON.stringify(j.timings),
          retryOf: j.retryOf, ownerPid: j.ownerPid, createdAt: j.createdAt, startedAt: j.startedAt,
          finishedAt: j.finishedAt, editedAt: j.editedAt,
        });
      }
    })();
  }

  update(id: string, patch: JobPatch): void {
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [key, value] of Object.entries(patch) as Array<[keyof typeof UPDATABLE, unknown]>) {
      if (value === undefined || !(key in UPDATABLE)) continue;
      if (key === 'error') {
        const error = value as JobError | null;
        sets.push('error_code = ?', 'error_message = ?');
        params.push(error?.code ?? null, error?.message ?? null);
        continue;
      }
      sets.push(`${UPDATABLE[key]} = ?`);
      params.push(columnValue(key, value));
    }
    if (sets.length === 0) return;
    const result = this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...params, id);
    if (result.changes === 0) throw new ServiceError('JOB_NOT_FOUND', `no job ${id} in the history`);
  }

  get(id: string): JobRecord | null {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  /** Newest first. */
  search({ query, limit, offset }: SearchQuery): { items: JobRecord[]; total: number } {
    const { where, params } = searchClause(query);
    try {
      const total = (this.db.prepare(`SELECT count(*) AS n FROM jobs WHERE ${where}`).get(...params) as { n: number }).n;
      const rows = this.db.prepare(`SELECT * FROM jobs WHERE ${where} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...params, limit, offset) as Row[];
      return { items: rows.map(fromRow), total };
    } catch (error) {
      throw new ServiceError('HISTORY_QUERY_FAILED', `the search "${query.slice(0, 80)}" failed: ${(error as Error).message}`);
    }
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;
  }
}
