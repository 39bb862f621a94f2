// The user's settings: one JSON file in the data dir, validated by the contract's schema
// (electron/contract/bridge.ts) on the way in and on the way out. Written atomically (a temp
// file, fsync, rename) so a crash mid-write leaves the old file, never half a file. A file
// edited by hand keeps every field that is still valid; a bad field falls back to its default.
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { settings as settingsSchema, type Settings } from '../contract/bridge.js';
import { SchemaError } from '../contract/schema.js';
import { ServiceError } from './service-error.js';

export const SETTINGS_FILE = 'settings.json';

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  temperature: 0.3,
  topP: 0.8,
  topK: 20,
  minP: 0,
  repetitionPenalty: 1.2,
  maxNewTokens: 512,
  maxImageSide: 512,
  commentTone: 'friendly',
  commentCount: 3,
  outputLanguage: 'ja',
  uiLanguage: 'system',
  vramBudgetMB: 0, // 0 = automatic: what the GPU has free when the model loads
  contextLength: 4096,
  backend: 'auto',
  // The window is plain 2-D UI; its GPU process would take hundreds of MB of VRAM from the model.
  hardwareAcceleration: false,
  modelFolders: [],
  selectedModelId: null,
});

function defaults(): Settings {
  return { ...DEFAULT_SETTINGS, modelFolders: [...DEFAULT_SETTINGS.modelFolders] };
}

/** Keeps each field of `raw` that validates on its own; the others take their defaults. */
function salvage(raw: unknown): { value: Settings; dropped: string[] } {
  const value = defaults();
  const dropped: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { value, dropped: ['(the whole file)'] };
  for (const [key, field] of Object.entries(raw)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_SETTINGS, key)) {
      dropped.push(key);
      continue;
    }
    try {
      const checked = settingsSchema.parse({ ...value, [key]: field });
      (value as Record<string, unknown>)[key] = (checked as Record<string, unknown>)[key];
    } catch {
      dropped.push(key);
    }
  }
  return { value, dropped };
}

/**
 * Reads the settings synchronously, for electron/main.ts, which must decide about hardware
 * acceleration before the app is ready. Never throws: a missing or unreadable file gives the defaults.
 */
export function readSettingsSync(dataDir: string): Settings {
  const file = join(dataDir, SETTINGS_FILE);
  try {
    return salvage(JSON.parse(readFileSync(file, 'utf8'))).value;
  } catch {
    return defaults();
  }
}

/** Writes `content` to `file` so that readers see the old or the new file, never a mix. */
export function writeFileAtomicSync(file: string, content: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

export class SettingsStore extends EventEmitter<{ changed: [Settings] }> {
  private current: Settings;
  readonly file: string;
  /** Fields of the file on disk that were invalid at start and fell back to defaults. */
  readonly droppedAtLoad: string[];

  constructor(readonly dataDir: string) {
    super();
    this.file = join(dataDir, SETTINGS_FILE);
    let raw: unknown = {};
    let dropped: string[] = [];
    if (existsSync(this.file)) {
      try {
        raw = JSON.parse(readFileSync(this.file, 'utf8'));
      } catch {
        raw = {};
        dropped = ['(the file is not valid JSON)'];
      }
    }
    const salvaged = salvage(raw);
    this.current = salvaged.value;
    this.droppedAtLoad = [...dropped, ...salvaged.dropped];
  }

  private overlayPatch: Partial<Settings> = {};

  get(): Settings {
    return structuredClone({ ...this.current, ...this.overlayPatch });
  }

  /**
   * Session-only overrides (the CLI's --backend, --context…): validated like an update, applied
   * on top of the stored settings, never written to the file.
   */
  overlay(patch: Partial<Settings>): Settings {
    for (const key of Object.keys(patch)) {
      if (!Object.prototype.hasOwnProperty.call(DEFAULT_SETTINGS, key)) throw new ServiceError('INVALID_SETTINGS', `unknown setting "${key.slice(0, 60)}"`);
    }
    try {
      settingsSchema.parse({ ...this.current, ...this.overlayPatch, ...patch }, 'settings');
    } catch (error) {
      throw new ServiceError('INVALID_SETTINGS', error instanceof SchemaError ? error.message : String(error));
    }
    this.overlayPatch = { ...this.overlayPatch, ...patch };
    return this.get();
  }

  /**
   * Applies a partial update from the window. Unknown keys and invalid values are refused as a
   * whole (INVALID_SETTINGS naming the field): a half-applied patch would surprise the user.
   */
  update(patch: unknown): Settings {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw new ServiceError('INVALID_SETTINGS', 'settings.update expects an object of fields to change');
    }
    for (const key of Object.keys(patch)) {
      if (!Object.prototype.hasOwnProperty.call(DEFAULT_SETTINGS, key)) throw new ServiceError('INVALID_SETTINGS', `unknown setting "${key.slice(0, 60)}"`);
    }
    let next: Settings;
    try {
      next = settingsSchema.parse({ ...this.current, ...patch }, 'settings');
      settingsSchema.parse({ ...next, ...this.overlayPatch }, 'settings');
    } catch (error) {
      throw new ServiceError('INVALID_SETTINGS', error instanceof SchemaError ? error.message : String(error));
    }
    next.modelFolders = [...new Set(next.modelFolders.map((f) => f.trim()).filter((f) => f.length > 0))];
    mkdirSync(this.dataDir, { recursive: true });
    writeFileAtomicSync(this.file, JSON.stringify(next, null, 2) + '\n');
    this.current = next;
    this.emit('changed', this.get());
    return this.get();
  }
}
