// uPlot options for latency per image: stage times as stacked bars (ms, left axis), time
// to first token as points on the same axis, tokens/s as a line on the right axis.
import uPlot from 'uplot';
import type { MessageKey, Translate } from '../i18n';
import { formatMs } from '../util/format';
import { LATENCY_STAGES, type LatencyStage } from '../telemetry/latency-series';
import { axisColor, gridColor, stageColors, tpsColor, ttftColor } from './palette';

export const stageLabelKeys: Record<LatencyStage, MessageKey> = {
  decode: 'live.stageDecode',
  preprocess: 'live.stagePreprocess',
  vision: 'live.stageVision',
  prefill: 'live.stagePrefill',
  generate: 'live.stageGenerate',
};

/** 0.5, 12, 850, 3.5k: short enough for a narrow axis. */
export function compactNumber(v: number): string {
  if (v >= 1000) return `${Number((v / 1000).toFixed(1))}k`;
  return v < 10 ? String(Number(v.toFixed(1))) : v.toFixed(0);
}

export function latencyChartOptions(t: Translate, width: number, height: number): uPlot.Options {
  const bars = uPlot.paths.bars!({ size: [0.6, 40] });
  const topDown = [...LATENCY_STAGES].reverse();
  return {
    width,
    height,
    legend: { show: false },
    cursor: { show: false },
    scales: {
      x: { time: false, range: (_u, min, max) => (min === null || max === null ? [0.5, 1.5] : [min - 0.5, max + 0.5]) },
      ms: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      tps: { range: (_u, _min, max) => [0, max > 0 ? max * 1.2 : 1] },
    },
    axes: [
      {
        stroke: axisColor,
        grid: { show: false },
        ticks: { stroke: gridColor },
        incrs: [1, 2, 5, 10, 20, 50],
        values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? `#${v}` : '')),
      },
      { scale: 'ms', stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor }, size: 60, values: (_u, splits) => splits.map((v) => formatMs(v)) },
      { scale: 'tps', side: 1, stroke: tpsColor, grid: { show: false }, ticks: { stroke: gridColor }, size: 44, values: (_u, splits) => splits.map(compactNumber) },
    ],
    series: [
      {},
      ...topDown.map((stage) => ({
        label: t(stageLabelKeys[stage]),
        scale: 'ms',
        stroke: stageColors[stage],
        fill: stageColors[stage],
        width: 0,
        paths: bars,
        points: { show: false },
      })),
      { label: t('live.ttft'), scale: 'ms', stroke: ttftColor, width: 0, paths: () => null, points: { show: true, size: 8, fill: ttftColor, stroke: '#14161a' } },
      { label: t('live.tps'), scale: 'tps', stroke: tpsColor, width: 1.5, points: { show: true, size: 5, fill: tpsColor } },
    ],
  };
}
