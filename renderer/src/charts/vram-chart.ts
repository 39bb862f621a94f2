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

/** Powers of two from 1 KiB to 1 TiB: axis ticks land on 256 MiB, 1 GiB, 4 GiB… */
const binaryIncrements = Array.from({ length: 31 }, (_, i) => 2 ** (i + 10));

export function vramChartOptions(t: Translate, width: number, height: number): uPlot.Options {
  const topDown = [...VRAM_LAYERS].reverse();
  return {
    width,
    height,
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, max > 0 ? max : 1] },
    },
    axes: [
      { stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor }, space: 60 },
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
