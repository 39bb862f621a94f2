// Builds HostServices for a test: a temp data dir, no model stores of the machine's user, the
// fixtures' llama.cpp folder as the model folder with model-f32 + mmproj selected, and every
// bridge event recorded.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostServices, type HostOptions } from '../../../electron/host/host-services.js';
import { nodeLauncher } from '../../../electron/worker-host/node-launcher.js';
import type { BridgeEvent, BridgeEventPayload, ModelEntry } from '../../../electron/contract/bridge.js';
import { fixturesRoot } from '../../helpers/paths.js';

export const vlFixtureFolder = join(fixturesRoot, 'tiny-qwen25vl-a', 'llamacpp');

export interface RecordedEvent {
  event: BridgeEvent;
  payload: unknown;
  at: number;
}

export interface TestHost {
  host: HostServices;
  events: RecordedEvent[];
  model: ModelEntry;
  /** Resolves with the first event (already recorded or future) that matches. */
  waitFor<E extends BridgeEvent>(event: E, match: (payload: BridgeEventPayload<E>) => boolean, timeoutMs?: number): Promise<BridgeEventPayload<E>>;
  of<E extends BridgeEvent>(event: E): Array<BridgeEventPayload<E>>;
}

export async function makeHost(options: Partial<HostOptions> & { workerEntry: string }): Promise<TestHost> {
  const host = new HostServices({
    host: 'serve',
    launcher: nodeLauncher,
    appVersion: '0.0.0-test',
    dataDir: mkdtempSync(join(tmpdir(), 'kotaro-host-')),
    roots: { ollama: [], lmstudio: [], huggingface: [] },
    supervisor: { backoff: { baseMs: 50, maxMs: 200, stableMs: 60_000 } },
    ...options,
  });
  const events: RecordedEvent[] = [];
  host.on('bridgeEvent', (e) => events.push({ ...e, at: performance.now() }));
  host.settings.update({ modelFolders: [vlFixtureFolder] });
  const models = await host.rescanModels();
  const model = models.find((m) => m.modelPath.endsWith('model-f32.gguf'));
  if (!model) throw new Error(`fixture model not found among ${models.map((m) => m.modelPath).join(', ')}`);
  host.settings.update({ selectedModelId: model.id });
  host.start();

  const of = <E extends BridgeEvent>(event: E) => events.filter((e) => e.event === event).map((e) => e.payload as BridgeEventPayload<E>);
  const waitFor = <E extends BridgeEvent>(event: E, match: (p: BridgeEventPayload<E>) => boolean, timeoutMs = 20_000) =>
    new Promise<BridgeEventPayload<E>>((resolve, reject) => {
      const seen = of(event).find(match);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => {
        host.off('bridgeEvent', listener);
        reject(new Error(`no ${event} event matched within ${timeoutMs} ms; worker: ${JSON.stringify(host.worker.getStatus())}`));
      }, timeoutMs);
      const listener = (e: { event: BridgeEvent; payload: unknown }) => {
        if (e.event === event && match(e.payload as BridgeEventPayload<E>)) {
          clearTimeout(timer);
          host.off('bridgeEvent', listener);
          resolve(e.payload as BridgeEventPayload<E>);
        }
      };
      host.on('bridgeEvent', listener);
    });
  return { host, events, model, waitFor, of };
}
