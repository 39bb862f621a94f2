import { describe, expect, it } from 'vitest';
import { selectLanguage } from '../../renderer/src/store/ui-slice';
import { settingsPatch, toDraft } from '../../renderer/src/views/settings-draft';
import { FakeBridge, model, settingsFixture, settle, status } from './fake-bridge';
import { makeStore, startedBridge } from './store-harness';

describe('models slice', () => {
  it('loads the registry and the status, and follows model.status events while loading', async () => {
    const models = [model({ id: 'qwen-3b', fits: true }), model({ id: 'qwen-7b', fits: false, sizeBytes: 5e9 })];
    const bridge = startedBridge()
      .handle('models.list', () => models)
      .handle('models.load', ({ modelId }) => {
        bridge.emit('model.status', status({ state: 'loading', modelId, progress: 0.5 }));
        expect(state().modelStatus).toMatchObject({ state: 'loading', progress: 0.5 });
        return status({ state: 'loaded', modelId, progress: 1, backend: 'cpu' });
      });
    const { state } = makeStore({ bridge, connect: true });
    await settle();
    expect(state().models.map((m) => m.id)).toEqual(['qwen-3b', 'qwen-7b']);
    expect(state().modelStatus?.state).toBe('unloaded');
    await state().loadModel('qwen-3b');
    expect(bridge.callsOf('models.load')).toEqual([{ modelId: 'qwen-3b' }]);
    expect(state().modelStatus).toMatchObject({ state: 'loaded', modelId: 'qwen-3b', backend: 'cpu' });
  });

  it('shows a load failure with its message', async () => {
    const bridge = new FakeBridge().handle('models.load', () => {
      throw Object.assign(new Error('mmproj missing'), { code: 'MODEL_INCOMPLETE' });
    });
    const { state } = makeStore({ bridge });
    await state().loadModel('m');
    expect(state().modelsError).toEqual({ code: 'MODEL_INCOMPLETE', message: 'mmproj missing' });
  });

  it('rescans and takes models.changed pushed by main', async () => {
    const bridge = startedBridge().handle('models.rescan', () => [model({ id: 'found' })]);
    const { state } = makeStore({ bridge, connect: true });
    await settle();
    await state().rescanModels();
    expect(state().models.map((m) => m.id)).toEqual(['found']);
    expect(state().rescanning).toBe(false);
    bridge.emit('models.changed', [model({ id: 'a' }), model({ id: 'b' })]);
    expect(state().models.map((m) => m.id)).toEqual(['a', 'b']);
  });

  it('unload sends models.unload', async () => {
    const bridge = new FakeBridge().handle('models.unload', () => status());
    const { state } = makeStore({ bridge });
    state().setModelStatus(status({ state: 'loaded', modelId: 'm', progress: 1 }));
    await state().unloadModel();
    expect(state().modelStatus?.state).toBe('unloaded');
  });
});

describe('settings slice', () => {
  it('sends a patch and keeps what the host answers', async () => {
    const bridge = startedBridge().handle('settings.update', ({ patch }) => ({ ...settingsFixture, ...(patch as object) }));
    const { state } = makeStore({ bridge, connect: true });
    await settle();
    expect(await state().updateSettings({ temperature: 0.2, commentTone: 'poetic' })).toBe(true);
    expect(bridge.callsOf('settings.update')).toEqual([{ patch: { temperature: 0.2, commentTone: 'poetic' } }]);
    expect(state().settings).toMatchObject({ temperature: 0.2, commentTone: 'poetic' });
  });

  it('keeps the old settings and shows the reason when the host refuses', async () => {
    const bridge = startedBridge().handle('settings.update', () => {
      throw Object.assign(new Error('patch.temperature: expected number <= 2, got number'), { code: 'INVALID_SETTINGS' });
    });
    const { state } = makeStore({ bridge, connect: true });
    await settle();
    expect(await state().updateSettings({ temperature: 9 })).toBe(false);
    expect(state().settings?.temperature).toBe(0.7);
    expect(state().settingsError?.code).toBe('INVALID_SETTINGS');
  });

  it('adding a model folder updates modelFolders and rescans', async () => {
    let folders: string[] = [];
    const bridge = startedBridge()
      .handle('settings.update', ({ patch }) => {
        folders = (patch as { modelFolders: string[] }).modelFolders;
        return { ...settingsFixture, modelFolders: folders };
      })
      .handle('models.rescan', () => (folders.length ? [model({ id: 'tiny' })] : []));
    const { state } = makeStore({ bridge, connect: true });
    await settle();
    expect(await state().addModelFolder('  /work/models  ')).toBe(true);
    expect(state().settings?.modelFolders).toEqual(['/work/models']);
    expect(state().models.map((m) => m.id)).toEqual(['tiny']);
    // The same folder again changes nothing.
    expect(await state().addModelFolder('/work/models')).toBe(true);
    expect(bridge.callsOf('settings.update')).toHaveLength(1);
    expect(await state().removeModelFolder('/work/models')).toBe(true);
    expect(state().settings?.modelFolders).toEqual([]);
    expect(state().models).toEqual([]);
  });

  it('settings.changed from main replaces the settings', async () => {
    const { bridge, state } = makeStore({ bridge: startedBridge(), connect: true });
    await settle();
    bridge.emit('settings.changed', { ...settingsFixture, maxImageSide: 448 });
    expect(state().settings?.maxImageSide).toBe(448);
  });
});

describe('settings form draft', () => {
  it('patches only changed fields, numbers parsed', () => {
    const draft = toDraft(settingsFixture);
    expect(settingsPatch(settingsFixture, draft)).toEqual({});
    const edited = { ...draft, temperature: '0.30', topK: '40', maxImageSide: '448', uiLanguage: 'ja' as const, hardwareAcceleration: true };
    expect(settingsPatch(settingsFixture, edited)).toEqual({ temperature: 0.3, maxImageSide: 448, uiLanguage: 'ja', hardwareAcceleration: true });
  });

  it('leaves out a number field that is empty or not a number (the form marks it invalid)', () => {
    const draft = { ...toDraft(settingsFixture), topP: '', minP: 'abc' };
    expect(settingsPatch(settingsFixture, draft)).toEqual({});
  });
});

describe('interface language', () => {
  it('follows the system language until the settings choose one', async () => {
    const ja = makeStore({ bridge: startedBridge(), systemLocale: 'ja-JP', connect: true });
    const en = makeStore({ bridge: startedBridge(), systemLocale: 'de-DE', connect: true });
    expect(selectLanguage(ja.state())).toBe('ja'); // before settings arrive
    await settle();
    expect(selectLanguage(ja.state())).toBe('ja');
    expect(selectLanguage(en.state())).toBe('en');
    ja.state().setSettings({ ...settingsFixture, uiLanguage: 'en' });
    expect(selectLanguage(ja.state())).toBe('en');
    en.state().setSettings({ ...settingsFixture, uiLanguage: 'ja' });
    expect(selectLanguage(en.state())).toBe('ja');
  });
});

describe('app slice', () => {
  it('loads app info and follows worker.status', async () => {
    const { bridge, state } = makeStore({ bridge: startedBridge(), connect: true });
    await settle();
    expect(state().appInfo?.host).toBe('serve');
    expect(state().worker?.state).toBe('ready');
    bridge.emit('worker.status', { state: 'restarting', pid: null, restarts: 1, lastError: 'CUDA error', engine: null });
    expect(state().worker).toMatchObject({ state: 'restarting', restarts: 1 });
  });

  it('shows why the host cannot be reached', async () => {
    const bridge = new FakeBridge().handle('app.info', () => {
      throw new Error('cannot reach the Kotaro host');
    });
    const { state } = makeStore({ bridge });
    await state().loadAppInfo();
    expect(state().connectionError).toBe('cannot reach the Kotaro host');
  });
});
