// uPlot options for VRAM over time: stacked areas, drawn from the top layer (free) down
// so each opaque fill covers the layers above the one beneath it.
import type uPlot from 'uplot';
import type { MessageKey, Translate } from '../i18n';
import { formatBytes } from '../util/format';
import { VRAM_LAYERS, type VramLayer } from '../telemetry/vram-series';
import { axisColor, gridColor, vramColors } from './palette';

export const vramLabelKeys: Record<VramLayer, MessageKey> = {
  weights: 'live.weights',
  kvCache: 'live.kvCache',
  activations: 'live.activations',
  other: 'live.other',
  free: 'live.free',
};

/** Seconds of history the chart shows (the ring holds as much at 10 Hz). */
export const WINDOW_S = 60;

/** Powers of two from 1 KiB to 1 TiB: axis ticks land on 256 MiB, 1 GiB, 4 GiB… */
const binaryIncrements = Array.from({ length: 31 }, (_, i) => 2 ** (i + 10));

export function vramChartOptions(t: Translate, width: number, height: number): uPlot.Options {
  const topDown = [...VRAM_LAYERS].reverse();
  return {
    width,
    height,
    legend: { show: false },
    // The legend beside the chart shows the latest values; a hover cursor adds nothing.
    cursor: { show: false },
    scales: {
      // A fixed window ending at the newest sample: the series scrolls in from the right.
      x: { time: false, range: (_u, _min, max) => (max === null ? [-WINDOW_S, 0] : [max - WINDOW_S, max]) },
      y: { range: (_u, _min, max) => [0, max > 0 ? max : 1] },
    },
    axes: [
      {
        stroke: axisColor,
        grid: { stroke: gridColor },
        ticks: { stroke: gridColor },
        // Ticks every 15 s counted back from the newest sample ("now").
        splits: (u) => {
          const end = u.scales.x!.max ?? 0;
          return [60, 45, 30, 15, 0].map((ago) => end - ago);
        },
        values: (u, splits) => {
          const end = u.scales.x!.max ?? 0;
          return splits.map((v) => (Math.abs(end - v) < 0.5 ? t('live.now') : `−${Math.round(end - v)} s`));
        },
      },
      {
        stroke: axisColor,
        grid: { stroke: gridColor },
        ticks: { stroke: gridColor },
        size: 70,
        incrs: binaryIncrements,
        values: (_u, splits) => splits.map((v) => formatBytes(v)),
      },
    ],
    series: [
      {},
      ...topDown.map((layer) => ({
        label: t(vramLabelKeys[layer]),
        stroke: vramColors[layer],
        fill: vramColors[layer],
        width: 1,
        points: { show: false },
      })),
    ],
  };
}
