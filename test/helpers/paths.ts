// Where tests find the repo, the built output and the reference fixtures.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixturesRoot = resolve(process.env.KOTARO_FIXTURES ?? join(repoRoot, '..', 'shared', 'fixtures'));
export const addonPath = join(repoRoot, 'build', 'Release', 'kotaro_engine.node');
export const workerEntry = join(repoRoot, 'dist', 'gpu-worker', 'main.js');

/** Fails loudly (rather than skipping) when a test's prerequisite is missing. */
export function requireFile(path: string, hint: string): string {
  if (!existsSync(path)) throw new Error(`missing ${path}: ${hint}`);
  return path;
}
