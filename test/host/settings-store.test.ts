// Settings: the defaults, validated updates, atomic persistence, a damaged file salvaged
// field by field, and the synchronous read main.ts does before the app is ready.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SETTINGS, SettingsStore, readSettingsSync, SETTINGS_FILE } from '../../electron/services/settings-store.js';
import { settings as settingsSchema } from '../../electron/contract/bridge.js';

const dir = () => mkdtempSync(join(tmpdir(), 'kotaro-settings-'));

describe('settings store', () => {
  it('starts from the documented defaults, valid under the contract schema', () => {
    const store = new SettingsStore(dir());
    const s = store.get();
    expect(s).toMatchObject({ temperature: 0.3, topP: 0.8, repetitionPenalty: 1.2, maxNewTokens: 512, maxImageSide: 512, vramBudgetMB: 0, hardwareAcceleration: false });
    expect(settingsSchema.parse(s)).toEqual(s);
  });

  it('persists an update atomically and announces it', () => {
    const d = dir();
    const store = new SettingsStore(d);
    const seen: number[] = [];
    store.on('changed', (s) => seen.push(s.temperature));
    store.update({ temperature: 0.7, modelFolders: [' /models ', '/models', ''] });
    expect(seen).toEqual([0.7]);
    expect(readdirSync(d)).toEqual([SETTINGS_FILE]); // no temp file left behind
    const onDisk = JSON.parse(readFileSync(join(d, SETTINGS_FILE), 'utf8'));
    expect(onDisk.temperature).toBe(0.7);
    expect(onDisk.modelFolders).toEqual(['/models']);
    expect(new SettingsStore(d).get().temperature).toBe(0.7);
  });

  it('refuses unknown keys and invalid values as a whole, naming the field', () => {
    const store = new SettingsStore(dir());
    expect(() => store.update({ temperature: 5 })).toThrow(expect.objectContaining({ code: 'INVALID_SETTINGS', message: expect.stringMatching(/settings\.temperature/) }));
    expect(() => store.update({ temperature: 0.5, bogus: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_SETTINGS', message: expect.stringMatching(/bogus/) }));
    expect(() => store.update('x')).toThrow(expect.objectContaining({ code: 'INVALID_SETTINGS' }));
    expect(store.get().temperature).toBe(DEFAULT_SETTINGS.temperature);
  });

  it('keeps the valid fields of a damaged file and reports the rest', () => {
    const d = dir();
    writeFileSync(join(d, SETTINGS_FILE), JSON.stringify({ temperature: 0.9, topP: 'high', hardwareAcceleration: true, legacy: 1 }));
    const store = new SettingsStore(d);
    expect(store.get()).toMatchObject({ temperature: 0.9, topP: DEFAULT_SETTINGS.topP, hardwareAcceleration: true });
    expect(store.droppedAtLoad.sort()).toEqual(['legacy', 'topP']);
    writeFileSync(join(d, SETTINGS_FILE), '{not json');
    expect(new SettingsStore(d).get()).toEqual(DEFAULT_SETTINGS);
  });

  it('reads synchronously for main.ts (hardware acceleration), never throwing', () => {
    const d = dir();
    expect(readSettingsSync(d).hardwareAcceleration).toBe(false);
    new SettingsStore(d).update({ hardwareAcceleration: true });
    expect(readSettingsSync(d).hardwareAcceleration).toBe(true);
    writeFileSync(join(d, SETTINGS_FILE), '\u0000garbage');
    expect(readSettingsSync(d)).toEqual(DEFAULT_SETTINGS);
    expect(readSettingsSync('/nonexistent/dir')).toEqual(DEFAULT_SETTINGS);
  });
});
