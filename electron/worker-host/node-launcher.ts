// Starts the worker as a Node child process with an IPC channel: the stand-in for
// Electron's utilityProcess under `kotaro serve`, the CLI and the tests.
import { fork } from 'node:child_process';
import type { WorkerLauncher, WorkerProcess } from './launcher.js';

export interface NodeLauncherOptions {
  /**
   * Sends the worker's stdout to this process's stderr: `kotaro analyze --json` keeps its own
   * stdout for the JSON document, whatever the worker prints.
   */
  stdoutToStderr?: boolean;
}

export function createNodeLauncher(options: NodeLauncherOptions = {}): WorkerLauncher {
  return {
    launch(entry, env): WorkerProcess {
      const child = fork(entry, [], {
        env: { ...process.env, ...env },
        stdio: ['ignore', options.stdoutToStderr ? 2 : 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      const exitListeners: Array<(exit: { code: number | null; signal: string | null }) => void> = [];
      let exited = false;
      const exit = (code: number | null, signal: string | null) => {
        if (exited) return;
        exited = true;
        for (const l of exitListeners.splice(0)) l({ code, signal });
      };
      child.once('exit', (code, signal) => exit(code, signal));
      // A send racing the worker's death fails with EPIPE as an 'error' event: without a
      // listener that would take main down. The death itself is reported by 'exit'. A child
      // that could not be spawned at all never exits: report it as an exit here.
      child.on('error', () => {
        if (child.pid === undefined) exit(null, null);
      });
      return {
        get pid() {
          return child.pid;
        },
        send: (message) => {
          if (child.connected) child.send(message as object, (error) => void error);
        },
        onMessage: (listener) => child.on('message', listener),
        onExit: (listener) => {
          if (exited) queueMicrotask(() => listener({ code: child.exitCode, signal: child.signalCode }));
          else exitListeners.push(listener);
        },
        kill: () => {
          child.kill('SIGKILL');
        },
      };
    },
  };
}

export const nodeLauncher: WorkerLauncher = createNodeLauncher();
