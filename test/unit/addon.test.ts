// The engine addon loads under plain Node and answers a call.
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { addonPath, requireFile } from '../helpers/paths.js';
import { engineBuildInfo } from '../../electron/contract/bridge.js';

describe('engine addon', () => {
  it('loads and reports how it was built and which GPUs it sees', () => {
    const require = createRequire(import.meta.url);
    const addon = require(requireFile(addonPath, 'run npm run build:native')) as { buildInfo(): unknown };
    const info = engineBuildInfo.parse(addon.buildInfo());
    expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.napiVersion).toBeGreaterThanOrEqual(8);
    if (info.cudaCompiled) expect(info.cudaArchs).toMatch(/89/);
    // CI has no GPU: the list is then empty, and never contains nonsense.
    for (const gpu of info.gpus) {
      expect(gpu.totalBytes).toBeGreaterThan(0);
      expect(gpu.name.length).toBeGreaterThan(0);
    }
  });
});
