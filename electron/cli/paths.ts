// Locations inside the installed package, from this file's place (dist/electron/cli or,
// under vitest, electron/cli).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function packageRoot(): string {
  let dir = here;
  for (let i = 0; i < 5; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'kotaro') return dir;
    dir = dirname(dir);
  }
  throw new Error(`kotaro: package root not found above ${here}`);
}

export function appVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function rendererRoot(): string {
  return join(packageRoot(), 'dist', 'renderer');
}
