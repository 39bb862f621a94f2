// A KotaroBridge for the renderer's store tests: every call is checked against the
// contract's params schema (so the window cannot drift from what main accepts), answered
// by a handler the test sets, and every answer is checked against the result schema.
import {
  bridgeEvents, bridgeMethods,
  type BridgeEvent, type BridgeEventPayload, type BridgeMethod, type BridgeParams, type BridgeResult, type KotaroBridge,
  type JobView, type ModelEntry, type ModelStatus, type Settings, type TelemetrySample,
} from '../../electron/contract/bridge';
import { placeholderJob } from '../../renderer/src/store/job-records';

type Handler<M extends BridgeMethod> = (params: BridgeParams<M>) => BridgeResult<M> | Promise<BridgeResult<M>>;

export class FakeBridge implements KotaroBridge {
  readonly calls: Array<{ method: BridgeMethod; params: unknown }> = [];
  private readonly handlers = new Map<BridgeMethod, Handler<BridgeMethod>>();
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();
  /** Turns a file into its host path; null = the file has none. Default: /inbox/<name>. */
  pathFor: (file: File) => string | null | Promise<string | null> = (file) => `/inbox/${file.name}`;
  readonly uploaded: string[] = [];

  handle<M extends BridgeMethod>(method: M, handler: Handler<M>): this {
    this.handlers.set(method, handler as unknown as Handler<BridgeMethod>);
    return this;
  }

  callsOf<M extends BridgeMethod>(method: M): Array<BridgeParams<M>> {
    return this.calls.filter((c) => c.method === method).map((c) => c.params as BridgeParams<M>);
  }

  async invoke<M extends BridgeMethod>(method: M, params: BridgeParams<M>): Promise<BridgeResult<M>> {
    bridgeMethods[method].params.parse(params, `${method} params`);
    this.calls.push({ method, params });
    const handler = this.handlers.get(method);
    if (!handler) throw Object.assign(new Error(`no handler for ${method}`), { code: 'NOT_HANDLED' });
    const result = await handler(params as never);
    return bridgeMethods[method].result.parse(result, `${method} result`) as BridgeResult<M>;
  }

  on<E extends BridgeEvent>(event: E, listener: (payload: BridgeEventPayload<E>) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    set.add(listener as (payload: unknown) => void);
    return () => set.delete(listener as (payload: unknown) => void);
  }

  listenerCount(event: BridgeEvent): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  /** Pushes an event as main would (validated against the contract first). */
  emit<E extends BridgeEvent>(event: E, payload: BridgeEventPayload<E>): void {
    bridgeEvents[event].parse(payload, event);
    for (const listener of this.listeners.get(event) ?? []) listener(payload);
  }

  async pathsForFiles(files: File[]): Promise<string[]> {
    const paths: string[] = [];
    for (const file of files) {
      const path = await this.pathFor(file);
      if (path) {
        this.uploaded.push(file.name);
        paths.push(path);
      }
    }
    return paths;
  }
}

/** Object URLs for tests: predictable names, and a record of what was revoked. */
export function fakePreviews() {
  let n = 0;
  const live = new Set<string>();
  const revoked: string[] = [];
  return {
    live,
    revoked,
    create(file: File) {
      const url = `blob:test/${++n}-${file.name}`;
      live.add(url);
      return url;
    },
    revoke(url: string) {
      live.delete(url);
      revoked.push(url);
    },
  };
}

export function image(name: string, type = 'image/png'): File {
  return new File([new Uint8Array([137, 80, 78, 71])], name, { type });
}

export function job(over: Partial<JobView> & { id: string }): JobView {
  return {
    ...placeholderJob(over.id, `${over.id}.png`, 1_000),
    batchId: 'b1',
    imagePath: `/inbox/${over.id}.png`,
    ...over,
  };
}

export const settingsFixture: Settings = {
  temperature: 0.7,
  topP: 0.9,
  topK: 40,
  minP: 0.05,
  repetitionPenalty: 1.05,
  maxNewTokens: 512,
  maxImageSide: 896,
  commentTone: 'friendly',
  commentCount: 3,
  outputLanguage: 'ja',
  uiLanguage: 'system',
  vramBudgetMB: 0,
  contextLength: 4096,
  backend: 'auto',
  hardwareAcceleration: false,
  modelFolders: [],
  selectedModelId: null,
};

export function model(over: Partial<ModelEntry> & { id: string }): ModelEntry {
  return {
    name: over.id,
    source: 'folder',
    modelPath: `/models/${over.id}/model.gguf`,
    mmprojPath: `/models/${over.id}/mmproj.gguf`,
    architecture: 'qwen2vl',
    quantization: 'Q4_K_M',
    sizeBytes: 2_000_000_000,
    contextLength: 32768,
    vramEstimateBytes: 3_000_000_000,
    fits: true,
    problem: null,
    vision: true,
    estimate: undefined,
    budgetBytes: undefined,
    maxContextFits: undefined,
    ...over,
  };
}

export function status(over: Partial<ModelStatus> = {}): ModelStatus {
  return { state: 'unloaded', modelId: null, progress: 0, backend: null, error: null, ...over };
}

export function telemetry(over: Partial<TelemetrySample> = {}): TelemetrySample {
  return {
    t: 1_700_000_000_000,
    deviceUsedBytes: 6 * 2 ** 30,
    deviceTotalBytes: 8 * 2 ** 30,
    engine: { weights: 3 * 2 ** 30, kvCache: 2 ** 30, activations: 2 ** 29, workspace: 2 ** 29 },
    otherProcessesBytes: 2 ** 29,
    backend: 'cuda',
    ...over,
  };
}

/** Lets pending promise chains (uploads, submits) run to completion. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}
