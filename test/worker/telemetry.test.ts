// Parsing nvidia-smi's per-process memory, and the sample shape without a model.
import { describe, expect, it } from 'vitest';
import { parseComputeApps, Telemetry } from '../../gpu-worker/telemetry.js';
import { telemetrySample } from '../../electron/contract/bridge.js';

describe('telemetry', () => {
  it('sums the memory of other processes, in bytes', () => {
    expect(parseComputeApps('123, 1024\n456, 512\n', 123)).toBe(512 * 1024 * 1024);
    expect(parseComputeApps('', 1)).toBe(0);
    expect(parseComputeApps('123, [N/A]\n', 1)).toBeNull();
  });

  it('samples a valid telemetry message without a model or an addon', () => {
    const t = new Telemetry(() => {}, () => null, () => null);
    const sample = telemetrySample.parse(t.sample());
    expect(sample).toMatchObject({ backend: 'none', deviceUsedBytes: 0, deviceTotalBytes: 0, otherProcessesBytes: null });
  });
});
