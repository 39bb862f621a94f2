// Starts the worker as a Node child process with an IPC channel: the stand-in for
// Electron's utilityProcess under `kotaro serve`, the CLI and the tests.
import { fork } from 'node:child_process';
import type { WorkerLauncher, WorkerProcess } from './launcher.js';

export const nodeLauncher: WorkerLauncher = {
  launch(entry, env): WorkerProcess {
    const child = fork(entry, [], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    return {
      get pid() {
        return child.pid;
      },
      send: (message) => {
        if (child.connected) child.send(message as object);
      },
      onMessage: (listener) => child.on('message', listener),
      onExit: (listener) => child.once('exit', (code, signal) => listener({ code, signal })),
      kill: () => {
        child.kill('SIGKILL');
      },
    };
  },
};
