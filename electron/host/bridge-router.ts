// Dispatches a bridge call from the window to the host services. The one place where
// renderer input enters main: the method name is checked against the contract and the
// params are validated with its schema before any handler sees them.
import {
  BRIDGE_VERSION, BridgeError, bridgeMethods, isBridgeMethod,
  type BridgeMethod, type BridgeParams, type BridgeResult, type BridgeErrorShape,
} from '../contract/bridge.js';
import type { HostServices } from './host-services.js';

type Handlers = { [M in BridgeMethod]: (params: BridgeParams<M>) => Promise<BridgeResult<M>> | BridgeResult<M> };

export function createHandlers(host: HostServices): Handlers {
  return {
    'app.info': () => ({
      name: 'Kotaro',
      version: host.options.appVersion,
      host: host.options.host,
      platform: `${process.platform}-${process.arch}`,
      bridgeVersion: BRIDGE_VERSION,
      worker: host.worker.getStatus(),
    }),
    'worker.ping': () => host.pingWorker(),

    'jobs.submit': async ({ paths }) => ({ jobIds: await host.submitJobs(paths) }),
    'jobs.list': () => host.queue.list(),
    'jobs.cancel': ({ jobId }) => ({ ok: host.queue.cancel(jobId) }),
    'jobs.cancelAll': () => ({ ok: host.queue.cancelAll() > 0 }),
    'jobs.retry': ({ jobId }) => ({ jobId: host.queue.retry(jobId) }),
    'jobs.edit': ({ jobId, description, comments }) => host.queue.edit(jobId, description, comments),

    'history.search': ({ query, limit, offset }) => host.searchHistory(query, limit, offset),
    'history.export': ({ format, query }) => host.exportHistory(format, query),

    'models.list': () => host.listModels(),
    'models.rescan': () => host.rescanModels(),
    'models.load': ({ modelId }) => host.loadModel(modelId),
    'models.unload': () => host.models.unload(),
    'models.status': () => host.models.getStatus(),

    'settings.get': () => host.settings.get(),
    'settings.update': ({ patch }) => host.updateSettings(patch),
  };
}

export class BridgeRouter {
  private readonly handlers: Handlers;
  constructor(host: HostServices) {
    this.handlers = createHandlers(host);
  }

  async dispatch(method: unknown, params: unknown): Promise<unknown> {
    if (!isBridgeMethod(method)) throw new BridgeError('UNKNOWN_METHOD', `no bridge method ${String(method).slice(0, 100)}`);
    const spec = bridgeMethods[method];
    let parsed: unknown;
    try {
      parsed = spec.params.parse(params ?? {}, 'params');
    } catch (error) {
      throw new BridgeError('INVALID_PARAMS', (error as Error).message);
    }
    const handler = this.handlers[method] as (p: unknown) => unknown;
    return await handler(parsed);
  }
}

/** Turns anything thrown by a handler into the shape that crosses the bridge. */
export function toBridgeError(error: unknown): BridgeErrorShape {
  const code = (error as { code?: unknown })?.code;
  return {
    code: typeof code === 'string' ? code : 'INTERNAL',
    message: error instanceof Error ? error.message : String(error),
  };
}
