// Terminal progress for `kotaro convert`: one redrawn bar on stderr when it is a terminal,
// plain lines (one per tensor) otherwise, so logs and CI output stay readable.
import type { ConvertProgress } from './index.js';

interface Output {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function createProgressReporter(out: Output = process.stderr): { update(p: ConvertProgress): void; finish(): void } {
  const tty = out.isTTY === true;
  let lastDraw = 0;
  let drawn = false;
  return {
    update(p) {
      const pct = p.bytesTotal > 0 ? Math.min(100, (100 * p.bytesDone) / p.bytesTotal) : 100;
      const doneFile = p.tensorIndex >= p.tensorCount;
      if (!tty) {
        if (!doneFile)
          out.write(`[${pct.toFixed(0).padStart(3)}%] ${p.file} ${p.tensorIndex + 1}/${p.tensorCount} ${p.tensorName} -> ${p.typeName}\n`);
        else out.write(`[${pct.toFixed(0).padStart(3)}%] ${p.file} written\n`);
        return;
      }
      const now = Date.now();
      if (!doneFile && now - lastDraw < 100) return; // at most 10 redraws a second
      lastDraw = now;
      const width = Math.max(10, Math.min(40, (out.columns ?? 80) - 60));
      const filled = Math.round((width * pct) / 100);
      const label = doneFile ? `${p.file} written` : `${p.file} ${p.tensorName} (${p.typeName})`;
      const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct.toFixed(0).padStart(3)}% ` +
        `${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} ${label}`;
      out.write(`\r\x1b[2K${line.slice(0, Math.max(20, (out.columns ?? 120) - 1))}`);
      drawn = true;
    },
    finish() {
      if (tty && drawn) out.write('\n');
      drawn = false;
    },
  };
}
