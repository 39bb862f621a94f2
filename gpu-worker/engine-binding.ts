// The JS ↔ addon contract: the typed surface of build/Release/kotaro_engine.node, with the
// addon's results validated where they are received. The worker is the only process that
// loads the addon (the GPU belongs to it).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineBuildInfo, type EngineBuildInfo } from '../electron/contract/bridge.js';

export interface EngineAddon {
  buildInfo(): unknown;
  [name: string]: unknown;
}

/** Where the addon lies: next to the sources in development, in resources when packaged. */
export function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromEnv = process.env.KOTARO_ADDON_PATH;
  const resourcesPath = (process as unknown as { resourcesPath?: string }).resourcesPath;
  return [
    ...(fromEnv ? [resolve(fromEnv)] : []),
    // dist/gpu-worker/… and gpu-worker/… (vitest runs the sources) both sit two levels below the root
    join(here, '..', 'build', 'Release', 'kotaro_engine.node'),
    join(here, '..', '..', 'build', 'Release', 'kotaro_engine.node'),
    ...(resourcesPath ? [join(resourcesPath, 'native', 'kotaro_engine.node')] : []),
  ];
}

let cached: EngineAddon | null = null;

export function loadEngineAddon(): EngineAddon {
  if (cached) return cached;
  const path = addonCandidates().find((p) => existsSync(p));
  if (!path) {
    const error = new Error(`the engine addon was not found (looked in: ${addonCandidates().join(', ')}); run npm run build:native`);
    (error as Error & { code: string }).code = 'ADDON_MISSING';
    throw error;
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as EngineAddon;
  return cached;
}

export function engineBuildInfoOf(addon: EngineAddon): EngineBuildInfo {
  return engineBuildInfo.parse(addon.buildInfo(), 'buildInfo()');
}
