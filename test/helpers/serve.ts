// Starts `node bin/kotaro.js serve --port 0` in a temp data dir and reads the URL it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export interface ServeProcess {
  url: string;
  origin: string;
  token: string;
  dataDir: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

export async function startServe(env: Record<string, string> = {}, timeoutMs = 60_000): Promise<ServeProcess> {
  const dataDir = env.KOTARO_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'kotaro-serve-'));
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'kotaro.js'), 'serve', '--port', '0'], {
    cwd: repoRoot,
    env: { ...process.env, KOTARO_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kotaro serve printed no URL in ${timeoutMs} ms:\n${log}`)), timeoutMs);
    const onData = () => {
      const m = /Kotaro is serving on (\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kotaro serve exited with ${code}:\n${log}`));
    });
  });
  const parsed = new URL(url);
  return {
    url,
    origin: parsed.origin,
    token: parsed.searchParams.get('token') ?? '',
    dataDir,
    child,
    output: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
