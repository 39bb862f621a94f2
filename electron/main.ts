// Electron's main process: the window and the utility process. This file and preload.cts
// are the only ones that import 'electron'; the services live in electron/host/ and run
// unchanged under `kotaro serve`.
import { app, BrowserWindow, ipcMain, session, shell, utilityProcess } from 'electron';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HostServices } from './host/host-services.js';
import { BridgeRouter, toBridgeError } from './host/bridge-router.js';
import type { WorkerLauncher, WorkerProcess } from './worker-host/launcher.js';
import { appVersion, rendererRoot } from './cli/paths.js';
import { storeInboxBytes } from './serve/upload.js';
import { readSettingsSync } from './services/settings-store.js';

const here = dirname(fileURLToPath(import.meta.url));

// Kotaro's VRAM belongs to the model: the window is plain 2-D UI (settings may turn this on).
const hardwareAcceleration = process.env.KOTARO_HARDWARE_ACCELERATION === '1' || readSettingsSync(app.getPath('userData')).hardwareAcceleration;
if (!hardwareAcceleration) app.disableHardwareAcceleration();

// better-sqlite3 built for Electron's ABI (scripts/build-electron-natives.mjs): beside the
// engine addon when packaged, under build/ in a checkout.
if (!process.env.KOTARO_SQLITE_BINDING) {
  const packaged = join(process.resourcesPath, 'native', 'better_sqlite3.node');
  process.env.KOTARO_SQLITE_BINDING = app.isPackaged ? packaged : join(here, '..', '..', 'build', 'electron-natives', 'better_sqlite3.node');
}

const WORKER_SERVICE_NAME = 'Kotaro GPU worker';
const goneReasons: Record<string, string> = {
  oom: 'ran out of memory (OOM)',
  crashed: 'crashed',
  killed: 'was killed',
  'launch-failed': 'could not be started',
  'integrity-failure': 'failed an integrity check',
  'abnormal-exit': 'exited abnormally',
};
let lastWorkerGone: { reason: string; at: number } | null = null;
app.on('child-process-gone', (_event, details) => {
  if (details.type === 'Utility' && details.serviceName === WORKER_SERVICE_NAME) lastWorkerGone = { reason: details.reason, at: Date.now() };
});

const utilityLauncher: WorkerLauncher = {
  launch(entry, env): WorkerProcess {
    const child = utilityProcess.fork(entry, [], {
      serviceName: WORKER_SERVICE_NAME,
      env: { ...process.env, ...env },
      stdio: 'inherit',
    });
    return {
      get pid() {
        return child.pid;
      },
      send: (message) => child.postMessage(message),
      onMessage: (listener) => child.on('message', listener),
      onExit: (listener) =>
        child.once('exit', (code) => {
          // Electron tells why a utility process died (OOM, crash) in 'child-process-gone',
          // which may arrive just after 'exit': wait a moment for it.
          setTimeout(() => {
            const gone = lastWorkerGone && Date.now() - lastWorkerGone.at < 2000 ? lastWorkerGone.reason : null;
            lastWorkerGone = null;
            listener({ code, signal: null, ...(gone && goneReasons[gone] ? { reason: goneReasons[gone] } : {}) });
          }, 100);
        }),
      kill: () => {
        child.kill();
      },
    };
  },
};

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

async function createWindow(host: HostServices): Promise<BrowserWindow> {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    backgroundColor: '#14161a',
    title: 'Kotaro',
    webPreferences: {
      preload: join(here, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  const indexUrl = pathToFileURL(join(rendererRoot(), 'index.html')).href;
  // No popups and no navigation away from our page: links open in the user's browser.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (event, url) => {
    if (url !== indexUrl) event.preventDefault();
  });
  const forward = ({ event, payload }: { event: string; payload: unknown }) => {
    if (!win.isDestroyed()) win.webContents.send('kotaro:event', event, payload);
  };
  host.on('bridgeEvent', forward);
  win.on('closed', () => host.off('bridgeEvent', forward));
  await win.loadURL(indexUrl);
  return win;
}

async function main(): Promise<void> {
  await app.whenReady();
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));

  const host = new HostServices({ host: 'electron', launcher: utilityLauncher, appVersion: appVersion(), dataDir: app.getPath('userData') });
  const router = new BridgeRouter(host);
  ipcMain.handle('kotaro:invoke', async (event, method: unknown, params: unknown) => {
    // Only our own page may call in.
    if (!event.senderFrame || !event.senderFrame.url.startsWith('file://')) {
      return { ok: false, error: { code: 'FORBIDDEN', message: 'not from the Kotaro window' } };
    }
    try {
      return { ok: true, result: await router.dispatch(method, params) };
    } catch (error) {
      return { ok: false, error: toBridgeError(error) };
    }
  });
  ipcMain.handle('kotaro:store-file', async (event, name: unknown, bytes: unknown) => {
    if (!event.senderFrame || !event.senderFrame.url.startsWith('file://')) {
      return { ok: false, error: { code: 'FORBIDDEN', message: 'not from the Kotaro window' } };
    }
    if (typeof name !== 'string' || name.length > 1000 || !(bytes instanceof Uint8Array)) {
      return { ok: false, error: { code: 'INVALID_PARAMS', message: 'store-file takes a name and bytes' } };
    }
    try {
      return { ok: true, result: await storeInboxBytes(join(host.dataDir, 'inbox'), name, bytes) };
    } catch (error) {
      return { ok: false, error: toBridgeError(error) };
    }
  });
  host.start();
  await createWindow(host);

  app.on('window-all-closed', () => {
    void host.stop().finally(() => app.quit());
  });
}

void main();
