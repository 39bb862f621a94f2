// The live panel: VRAM over the last minute (stacked by what holds it) and latency per
// image. Charts and their legends update outside React (see charts/LiveChart.tsx).
import { useCallback, useRef } from 'react';
import type uPlot from 'uplot';
import { LiveChart } from '../charts/LiveChart';
import { latencyChartOptions, stageLabelKeys } from '../charts/latency-chart';
import { stageColors, tpsColor, ttftColor, vramColors } from '../charts/palette';
import { vramChartOptions, vramLabelKeys } from '../charts/vram-chart';
import { useT } from '../i18n/use-t';
import { LATENCY_STAGES } from '../telemetry/latency-series';
import { useKotaro } from '../store/react';
import { useLatestLatency, useLiveFeed } from '../telemetry/react';
import { VRAM_LAYERS } from '../telemetry/vram-series';
import { formatBytes, formatMs, formatRate } from '../util/format';

export function LivePanel() {
  const t = useT();
  return (
    <aside className="live-panel" aria-label={t('live.label')} data-testid="live-panel">
      <VramSection />
      <LatencySection />
    </aside>
  );
}

function VramSection() {
  const t = useT();
  const feed = useLiveFeed();
  // On the CPU backend the engine's memory is the computer's RAM, not a GPU's.
  const cpu = useKotaro((s) => s.modelStatus?.backend === 'cpu');
  const valueRefs = useRef<Partial<Record<string, HTMLElement | null>>>({});
  const summaryRef = useRef<HTMLParagraphElement>(null);
  const buffers = useRef<number[][]>([]);

  const options = useCallback((w: number, h: number) => vramChartOptions(t, w, h), [t]);
  const data = useCallback(() => feed.vram.stacked(buffers.current) as uPlot.AlignedData, [feed]);
  // Text next to the chart, written on the same animation frame as the chart.
  const afterDraw = useCallback(() => {
    // These nodes have no React children, so React never fights over their text.
    const latest = feed.vram.latest;
    for (const layer of VRAM_LAYERS) {
      const el = valueRefs.current[layer];
      if (el) el.textContent = latest ? formatBytes(latest[layer]) : '—';
    }
    if (summaryRef.current) {
      summaryRef.current.textContent = latest
        ? `${t('live.usedOfTotal', { used: formatBytes(latest.used), total: formatBytes(latest.total) })} · ${t('live.backend', { backend: latest.backend })}`
        : '';
    }
  }, [feed, t]);

  return (
    <section className="live-section">
      <h2>{cpu ? t('live.memoryCpu') : t('live.vram')}</h2>
      <p className="live-summary" ref={summaryRef} data-testid="vram-summary" />
      <LiveChart topic="vram" height={150} label={t('live.vramChart')} testId="vram-chart" options={options} data={data} afterDraw={afterDraw} emptyText={t('live.noTelemetry')} />
      <ul className="legend">
        {VRAM_LAYERS.map((layer) => (
          <li key={layer} title={layer === 'other' ? t('live.otherHint') : undefined}>
            <span className="swatch" style={{ background: vramColors[layer] }} aria-hidden="true" />
            <span>{t(vramLabelKeys[layer])}</span>
            <span className="legend-value" ref={(el) => void (valueRefs.current[layer] = el)} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function LatencySection() {
  const t = useT();
  const feed = useLiveFeed();
  const latest = useLatestLatency();
  const buffers = useRef<Array<Array<number | null>>>([]);
  const options = useCallback((w: number, h: number) => latencyChartOptions(t, w, h), [t]);
  const data = useCallback(() => feed.latency.chartData(buffers.current) as uPlot.AlignedData, [feed]);

  return (
    <section className="live-section">
      <h2>{t('live.latency')}</h2>
      <LiveChart topic="latency" height={140} label={t('live.latencyChart')} testId="latency-chart" options={options} data={data} emptyText={t('live.noJobs')} />
      <ul className="legend">
        {LATENCY_STAGES.map((stage) => (
          <li key={stage}>
            <span className="swatch" style={{ background: stageColors[stage] }} aria-hidden="true" />
            <span>{t(stageLabelKeys[stage])}</span>
          </li>
        ))}
        <li>
          <span className="swatch swatch-dot" style={{ background: ttftColor }} aria-hidden="true" />
          <span>{t('live.ttft')}</span>
        </li>
        <li>
          <span className="swatch swatch-line" style={{ background: tpsColor }} aria-hidden="true" />
          <span>{t('live.tps')}</span>
        </li>
      </ul>
      {latest ? (
        <div className="latency-last" data-testid="latency-last">
          <p className="live-summary">{t('live.lastJob', { name: latest.name })}</p>
          <table>
            <tbody>
              {LATENCY_STAGES.map((stage) => (
                <tr key={stage}>
                  <th scope="row">{t(stageLabelKeys[stage])}</th>
                  <td>{formatMs(latest.stages[stage])}</td>
                </tr>
              ))}
              <tr>
                <th scope="row">{t('live.ttft')}</th>
                <td>{formatMs(latest.firstTokenMs)}</td>
              </tr>
              <tr>
                <th scope="row">{t('live.tps')}</th>
                <td>{formatRate(latest.tokensPerSecond)}</td>
              </tr>
              <tr className="total">
                <th scope="row">{t('live.total')}</th>
                <td>{formatMs(latest.totalMs)}</td>
              </tr>
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
