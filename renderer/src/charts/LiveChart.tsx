// Mounts one uPlot chart and keeps it current from the live feed. React renders the box
// once; new samples mark the chart dirty and the next animation frame redraws it with
// setData, so a 10 Hz stream never goes through React state (no re-render per sample).
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { FeedTopic } from '../telemetry/live-feed';
import { useLiveFeed } from '../telemetry/react';

export interface LiveChartProps {
  topic: FeedTopic;
  height: number;
  label: string;
  testId: string;
  /** Chart options for a size; must be memoized (a new function rebuilds the chart). */
  options: (width: number, height: number) => uPlot.Options;
  /** Current data, read from the feed's ring buffers. */
  data: () => uPlot.AlignedData;
  /** Called after each redraw (text legends are written here, outside React). */
  afterDraw?: () => void;
  /** Shown over the chart while it has no points. */
  emptyText: string;
}

export function LiveChart({ topic, height, label, testId, options, data, afterDraw, emptyText }: LiveChartProps) {
  const feed = useLiveFeed();
  const boxRef = useRef<HTMLDivElement>(null);
  // The latest callbacks, read by the frame loop without restarting it.
  const dataRef = useRef(data);
  const afterDrawRef = useRef(afterDraw);
  useEffect(() => {
    dataRef.current = data;
    afterDrawRef.current = afterDraw;
  });

  useEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    const width = Math.max(120, box.clientWidth);
    const chart = new uPlot(options(width, height), dataRef.current(), box);
    let frame = 0;
    const draw = () => {
      frame = 0;
      const next = dataRef.current();
      chart.setData(next);
      box.dataset.points = String(next[0].length);
      afterDrawRef.current?.();
    };
    const schedule = () => {
      if (frame === 0) frame = requestAnimationFrame(draw);
    };
    draw();
    const unsubscribe = feed.subscribe((changed) => {
      if (changed === topic) schedule();
    });
    const resize = new ResizeObserver(() => {
      const w = Math.max(120, box.clientWidth);
      if (w !== chart.width) chart.setSize({ width: w, height });
    });
    resize.observe(box);
    return () => {
      unsubscribe();
      resize.disconnect();
      if (frame !== 0) cancelAnimationFrame(frame);
      chart.destroy();
    };
  }, [feed, topic, height, options]);

  // data-points is written by the frame loop; CSS shows the empty text while it is "0".
  return (
    <div className="live-chart-wrap">
      <div ref={boxRef} className="live-chart" role="img" aria-label={label} data-testid={testId} data-points="0" />
      <p className="chart-empty" aria-hidden="true">
        {emptyText}
      </p>
    </div>
  );
}
