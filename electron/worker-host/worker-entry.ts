// Where the compiled worker entry lies (dist/gpu-worker/main.js), from this file's place
// in dist/electron/worker-host/ or, under vitest, electron/worker-host/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function workerEntryPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, '..', '..', 'gpu-worker', 'main.js'),          // dist/electron/worker-host → dist/gpu-worker
    join(here, '..', '..', 'dist', 'gpu-worker', 'main.js'),  // electron/worker-host → dist/gpu-worker
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`gpu-worker entry not found (looked in ${candidates.join(', ')}); run npm run build:ts`);
  return found;
}
