// The history store: schema migrations, rows, text search (Japanese substrings included),
// crash recovery of a dead host's jobs, and exports with proper CSV quoting.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { HistoryStore, HISTORY_SCHEMA_VERSION, HISTORY_FILE } from '../../electron/services/history-store.js';
import { csvField, exportCsv, exportJson } from '../../electron/services/history-export.js';
import type { JobRecord } from '../../electron/services/job-record.js';

const dir = () => mkdtempSync(join(tmpdir(), 'kotaro-history-'));

let n = 0;
function record(patch: Partial<JobRecord> = {}): JobRecord {
  n++;
  return {
    id: `job-${n}`, batchId: 'b1', state: 'done', imagePath: `/photos/img${n}.jpg`, imageName: `img${n}.jpg`,
    imageHash: null, imageBytes: null, imageWidth: null, imageHeight: null, thumbnail: null,
    modelId: 'm-1', modelPath: '/m/model.gguf', mmprojPath: '/m/mmproj.gguf', settings: null,
    description: '', comments: [], streamText: '', progress: 0, error: null, timings: {}, retryOf: null,
    createdAt: 1_700_000_000_000 + n, startedAt: null, finishedAt: null, editedAt: null, ownerPid: null,
    ...patch,
  };
}

/** A pid that certainly belonged to a process that has ended. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

describe('history store', () => {
  it('creates the schema through migrations recorded in user_version, with WAL', () => {
    const d = dir();
    const store = HistoryStore.open(d);
    expect(store.schemaVersion).toBe(HISTORY_SCHEMA_VERSION);
    store.close();
    const db = new Database(join(d, HISTORY_FILE));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    // Reopening an up-to-date database runs no migration and keeps rows.
    const again = HistoryStore.open(d);
    expect(again.schemaVersion).toBe(HISTORY_SCHEMA_VERSION);
    again.close();
  });

  it('refuses a database written by a newer Kotaro instead of damaging it', () => {
    const d = dir();
    HistoryStore.open(d).close();
    const db = new Database(join(d, HISTORY_FILE));
    db.pragma(`user_version = ${HISTORY_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => HistoryStore.open(d)).toThrow(expect.objectContaining({ code: 'HISTORY_TOO_NEW' }));
  });

  it('stores, updates and reads back every field', () => {
    const store = HistoryStore.open(dir());
    const r = record({ state: 'pending', timings: { totalMs: 5 }, settings: null });
    store.insert([r]);
    store.update(r.id, { state: 'failed', error: { code: 'WORKER_CRASHED', message: 'killed by SIGKILL' }, comments: ['a', 'b'], finishedAt: 9 });
    const back = store.get(r.id)!;
    expect(back).toMatchObject({ state: 'failed', error: { code: 'WORKER_CRASHED', message: 'killed by SIGKILL' }, comments: ['a', 'b'], finishedAt: 9, timings: { totalMs: 5 } });
    expect(() => store.update('nope', { state: 'done' })).toThrow(expect.objectContaining({ code: 'JOB_NOT_FOUND' }));
    store.close();
  });

  it('finds jobs by text: trigram FTS for 3+ characters, LIKE for shorter, Japanese included, newest first', () => {
    const store = HistoryStore.open(dir());
    store.insert([
      record({ id: 'sea', description: '夕暮れの海辺で犬が走っている', comments: ['最高の一枚!'] }),
      record({ id: 'cat', description: 'A cat sleeping on a red sofa', comments: ['So cozy'] }),
      record({ id: 'both', description: 'A cat at the beach 海辺', imageName: 'holiday.png' }),
    ]);
    const ids = (q: string) => store.search({ query: q, limit: 10, offset: 0 }).items.map((j) => j.id);
    expect(ids('海辺で犬')).toEqual(['sea']);
    expect(ids('海辺')).toEqual(['both', 'sea']); // 2 characters: LIKE
    expect(ids('CAT')).toEqual(['both', 'cat']);
    expect(ids('cat 海辺')).toEqual(['both']);
    expect(ids('cozy')).toEqual(['cat']); // comments are searched
    expect(ids('holiday')).toEqual(['both']); // file names too
    expect(ids('"unbalanced AND OR (')).toEqual([]); // FTS syntax typed by the user is text
    expect(ids('100%')).toEqual([]);
    const page = store.search({ query: '', limit: 2, offset: 1 });
    expect(page.total).toBe(3);
    expect(page.items.map((j) => j.id)).toEqual(['cat', 'sea']);
    // An edit is searchable at once (the FTS index follows updates).
    store.update('cat', { description: 'A dog now' });
    expect(ids('sleeping')).toEqual([]);
    expect(ids('dog now')).toEqual(['cat']);
    store.close();
  });

  it("marks a dead host's pending and running jobs failed with the cause INTERRUPTED, and leaves a live host's alone", () => {
    const d = dir();
    const first = HistoryStore.open(d);
    const dead = deadPid();
    first.insert([
      record({ id: 'was-running', state: 'running', ownerPid: dead }),
      record({ id: 'was-pending', state: 'pending', ownerPid: dead }),
      record({ id: 'live', state: 'running', ownerPid: process.pid }),
      record({ id: 'finished', state: 'done', ownerPid: null }),
    ]);
    first.close();
    const second = HistoryStore.open(d);
    expect(second.recovered).toBe(2);
    expect(second.get('was-running')).toMatchObject({ state: 'failed', error: { code: 'INTERRUPTED', message: expect.stringMatching(/^interrupted: .*being analysed/) } });
    expect(second.get('was-pending')).toMatchObject({ state: 'failed', error: { code: 'INTERRUPTED', message: expect.stringMatching(/before/) } });
    expect(second.get('live')!.state).toBe('running');
    expect(second.get('finished')!.state).toBe('done');
    second.close();
  });
});

describe('history export', () => {
  const jobs = [
    record({ id: 'q', description: 'He said "hi", then left\nnew line', comments: ['one, two', 'three'], error: null, timings: { totalMs: 1234.4, decodeTokensPerSecond: 12.3456 } }),
    record({ id: 'f', description: '=HYPERLINK("http://x")', comments: ['- a bullet', '-2+3', '@cmd', '+1'] }),
    record({ id: 'e', state: 'failed', error: { code: 'IMAGE_CORRUPT', message: 'truncated' } }),
  ];

  it('quotes CSV fields with commas, quotes and newlines (RFC 4180) and neutralises formulas', () => {
    const csv = exportCsv(jobs);
    expect(csv.startsWith('\ufeffid,created_at,')).toBe(true);
    expect(csv).toContain('"He said ""hi"", then left\nnew line"');
    expect(csv).toContain('"one, two\nthree"');
    expect(csv).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(csv).toContain(`"- a bullet\n-2+3\n@cmd\n+1"`); // a joined cell starting with "- " is not a formula
    expect(csvField('-2+3')).toBe(`'-2+3`);
    expect(csvField('@cmd')).toBe(`'@cmd`);
    expect(csvField('- item')).toBe('- item');
    expect(csvField('plain')).toBe('plain');
    expect(csvField(null)).toBe('');
    expect(csv).toContain(',IMAGE_CORRUPT,truncated,');
    expect(csv).toContain(',1234,12.35,');
    expect(csv.endsWith('\r\n')).toBe(true);
    // Records are separated by CRLF; newlines inside quoted fields stay LF.
    expect(csv.split('\r\n').length).toBe(jobs.length + 2);
  });

  it('exports JSON with every field but the thumbnail', () => {
    const parsed = JSON.parse(exportJson([record({ thumbnail: 'data:image/jpeg;base64,xx', description: 'x', comments: ['y'] })]));
    expect(parsed.kotaroHistory).toBe(1);
    expect(parsed.items[0]).toMatchObject({ description: 'x', comments: ['y'], model: { id: 'm-1' }, image: { name: expect.any(String) } });
    expect(JSON.stringify(parsed)).not.toContain('base64');
  });
});
