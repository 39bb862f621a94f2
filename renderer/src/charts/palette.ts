// Colours of the live charts: distinct on the dark background, calm enough for long sessions.
import type { VramLayer } from '../telemetry/vram-series';
import type { LatencyStage } from '../telemetry/latency-series';

export const vramColors: Record<VramLayer, string> = {
  weights: '#7aa2f7',
  kvCache: '#bb9af7',
  activations: '#e0af68',
  other: '#f7768e',
  free: '#2c323d',
};

export const stageColors: Record<LatencyStage, string> = {
  decode: '#73daca',
  preprocess: '#2ac3de',
  vision: '#7aa2f7',
  prefill: '#bb9af7',
  generate: '#9ece6a',
};

export const ttftColor = '#e6e8ec';
export const tpsColor = '#e0af68';
export const axisColor = '#9aa1ad';
export const gridColor = 'rgba(154, 161, 173, 0.12)';
