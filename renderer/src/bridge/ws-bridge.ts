// window.kotaro for a browser opened on `kotaro serve`: the same KotaroBridge interface as
// Electron's preload, carried over a WebSocket that authenticates with the URL's token.
import type { BridgeErrorShape, KotaroBridge, WireMessage } from '../../../electron/contract/bridge';

export function createWebSocketBridge(url: string, uploadUrl: string): KotaroBridge {
  let socket: WebSocket | null = null;
  let opening: Promise<WebSocket> | null = null;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();

  function open(): Promise<WebSocket> {
    if (socket && socket.readyState === WebSocket.OPEN) return Promise.resolve(socket);
    if (opening) return opening;
    opening = new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => {
        socket = ws;
        opening = null;
        resolve(ws);
      };
      ws.onerror = () => {
        opening = null;
        reject(new Error('cannot reach the Kotaro host'));
      };
      ws.onclose = () => {
        socket = null;
        for (const [, p] of pending) p.reject(new Error('the connection to the Kotaro host was lost'));
        pending.clear();
        // Reconnect so events keep flowing after a host restart.
        setTimeout(() => void open().catch(() => undefined), 1000);
      };
      ws.onmessage = (event) => {
        const message = JSON.parse(String(event.data)) as WireMessage;
        if (message.type === 'event') {
          for (const listener of listeners.get(message.event) ?? []) listener(message.payload);
          return;
        }
        const p = pending.get(message.id);
        if (!p) return;
        pending.delete(message.id);
        if (message.type === 'result') p.resolve(message.result);
        else p.reject(toError(message.error));
      };
    });
    return opening;
  }

  void open().catch(() => undefined);

  return {
    async invoke(method, params) {
      const ws = await open();
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        ws.send(JSON.stringify({ type: 'invoke', id, method, params }));
      });
    },
    async pathsForFiles(files) {
      // A browser has no file paths: upload each file into the host's inbox.
      const paths: string[] = [];
      for (const file of files) {
        const response = await fetch(`${uploadUrl}&name=${encodeURIComponent(file.name)}`, {
          method: 'POST',
          body: file,
          headers: { 'Content-Type': 'application/octet-stream' },
        });
        const body = (await response.json()) as { path?: string; error?: BridgeErrorShape };
        if (!response.ok || !body.path) throw toError(body.error ?? { code: 'UPLOAD_FAILED', message: `upload of ${file.name} failed (${response.status})` });
        paths.push(body.path);
      }
      return paths;
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      const wrapped = listener as (payload: unknown) => void;
      set.add(wrapped);
      return () => set.delete(wrapped);
    },
  };
}

function toError(shape: BridgeErrorShape): Error {
  const error = new Error(shape.message) as Error & { code: string };
  error.code = shape.code;
  return error;
}
