// The window's only way out: a narrow, typed `window.kotaro` (see electron/contract/bridge.ts).
// Sandboxed preloads cannot load our other modules, so only types are imported.
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { KotaroBridge, BridgeErrorShape } from './contract/bridge.js';

type InvokeReply = { ok: true; result: unknown } | { ok: false; error: BridgeErrorShape };

const listeners = new Map<string, Set<(payload: unknown) => void>>();
ipcRenderer.on('kotaro:event', (_event, name: string, payload: unknown) => {
  for (const listener of listeners.get(name) ?? []) listener(payload);
});

const bridge: KotaroBridge = {
  async invoke(method, params) {
    const reply = (await ipcRenderer.invoke('kotaro:invoke', method, params)) as InvokeReply;
    if (!reply.ok) {
      const error = new Error(reply.error.message) as Error & { code: string };
      error.code = reply.error.code;
      throw error;
    }
    return reply.result as never;
  },
  on(event, listener) {
    const set = listeners.get(event) ?? new Set();
    listeners.set(event, set);
    const wrapped = listener as (payload: unknown) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  },
  async pathsForFiles(files) {
    // Files dropped or picked in the window are files on this machine: pass their paths.
    // A pasted clipboard image has none: its bytes go to main, which stores it in the inbox.
    const paths: string[] = [];
    for (const file of files) {
      const path = webUtils.getPathForFile(file);
      if (path) {
        paths.push(path);
        continue;
      }
      const reply = (await ipcRenderer.invoke('kotaro:store-file', file.name, new Uint8Array(await file.arrayBuffer()))) as InvokeReply;
      if (!reply.ok) {
        const error = new Error(reply.error.message) as Error & { code: string };
        error.code = reply.error.code;
        throw error;
      }
      paths.push(reply.result as string);
    }
    return paths;
  },
};

contextBridge.exposeInMainWorld('kotaro', bridge);
