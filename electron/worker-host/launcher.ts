// How main starts the GPU worker process. Electron uses utilityProcess.fork (implemented in
// electron/main.ts, the only place that may import electron); `kotaro serve`, the CLI and
// the tests use child_process.fork (node-launcher.ts). The supervisor sees only this.

export interface WorkerProcess {
  readonly pid: number | undefined;
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the process ends, for whatever reason. */
  onExit(listener: (exit: WorkerExit) => void): void;
  kill(): void;
}

export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /** Why it ended, in words, when the platform tells (Electron: "ran out of memory"). */
  reason?: string;
}

export interface WorkerLauncher {
  launch(entry: string, env: Record<string, string>): WorkerProcess;
}
