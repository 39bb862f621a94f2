// Telemetry at about 10 Hz: device memory used/total, the engine's bytes by category, and what
// other processes hold on the GPU when nvidia-smi can tell. Sent as the bridge's telemetry
// sample so main forwards it to the window as is.
import { execFile } from 'node:child_process';
import { totalmem } from 'node:os';
import type { TelemetrySample } from '../electron/contract/bridge.js';
import { engineBuildInfoOf, type EngineAddon } from './engine-binding.js';
import type { LoadedModel } from './model-host.js';

/** Other processes' GPU memory from `nvidia-smi --query-compute-apps`, sampled every few seconds. */
export class OtherProcessesProbe {
  private value: number | null = null;
  private lastAt = 0;
  private running = false;
  private disabled = false;

  constructor(private readonly periodMs = 2000, private readonly command = 'nvidia-smi') {}

  /** The latest figure (null when unknown); refreshes in the background when stale. */
  read(): number | null {
    if (this.disabled) return null;
    const now = Date.now();
    if (!this.running && now - this.lastAt >= this.periodMs) {
      this.running = true;
      this.lastAt = now;
      execFile(this.command, ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], { timeout: 1500 }, (error, stdout) => {
        this.running = false;
        if (error) {
          // No nvidia-smi (or no driver): stop asking.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') this.disabled = true;
          this.value = null;
          return;
        }
        this.value = parseComputeApps(stdout, process.pid);
      });
    }
    return this.value;
  }
}

/** Sums the MiB of the listed processes other than `self`; null when a figure is not given. */
export function parseComputeApps(csv: string, self: number): number | null {
  let total = 0;
  for (const line of csv.split('\n')) {
    if (!line.trim()) continue;
    const [pid, mib] = line.split(',').map((x) => x.trim());
    const mb = Number(mib);
    if (!Number.isFinite(mb)) return null; // "[N/A]", "[Insufficient Permissions]"
    if (Number(pid) !== self) total += mb * 1024 * 1024;
  }
  return total;
}

export class Telemetry {
  private timer: NodeJS.Timeout | null = null;
  private readonly probe = new OtherProcessesProbe();

  constructor(
    private readonly emit: (sample: TelemetrySample) => void,
    private readonly currentModel: () => LoadedModel | null,
    private readonly addon: () => EngineAddon | null,
  ) {}

  configure(intervalMs: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (intervalMs > 0) {
      this.timer = setInterval(() => {
        try {
          this.emit(this.sample());
        } catch {
          // a failed sample is skipped; the next one may succeed (e.g. during an unload)
        }
      }, intervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    this.configure(0);
  }

  sample(): TelemetrySample {
    const model = this.currentModel();
    const hasGpu = () => {
      const addon = this.addon();
      return addon ? engineBuildInfoOf(addon).gpus : [];
    };
    if (model) {
      const m = model.engine.memory();
      const engine = { weights: m.weights, kvCache: m.kvCache, activations: m.activations, workspace: m.workspace };
      const backend = model.engine.info.backend;
      if (backend === 'cpu') {
        // On the CPU backend the "device" is host memory: the engine's own bytes of all RAM.
        const used = engine.weights + engine.kvCache + engine.activations + engine.workspace;
        return { t: Date.now(), deviceUsedBytes: used, deviceTotalBytes: totalmem(), engine, otherProcessesBytes: null, backend };
      }
      return { t: Date.now(), deviceUsedBytes: m.deviceUsed, deviceTotalBytes: m.deviceTotal, engine, otherProcessesBytes: this.probe.read(), backend };
    }
    const gpus = hasGpu();
    const gpu = gpus[0];
    return {
      t: Date.now(),
      deviceUsedBytes: gpu ? gpu.totalBytes - gpu.freeBytes : 0,
      deviceTotalBytes: gpu ? gpu.totalBytes : 0,
      engine: { weights: 0, kvCache: 0, activations: 0, workspace: 0 },
      otherProcessesBytes: gpu ? this.probe.read() : null,
      backend: 'none',
    };
  }
}
