import uPlot from 'uplot';
import type { LabRow } from '../../core/lab/index.ts';
import { rowLabel } from './table.ts';

const charts: uPlot[] = [];

/** The figure's width: the chart element itself may have been stretched by an earlier chart. */
function width(el: HTMLElement): number {
  const figure = el.closest('figure') ?? el;
  return Math.max(240, Math.floor(figure.clientWidth || 320));
}

function barChart(
  el: HTMLElement,
  rows: LabRow[],
  series: { label: string; values: (number | null)[]; color: string; kind: 'bars' | 'points' }[],
  yLabel: string,
): uPlot {
  const xs = rows.map((_, i) => i);
  const labels = rows.map(rowLabel);
  const opts: uPlot.Options = {
    width: width(el),
    height: 260,
    scales: {
      x: { time: false, range: [-0.6, rows.length - 0.4] },
      y: { range: (_u, _min, max) => [0, max * 1.1 || 1] },
    },
    axes: [
      {
        values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? (labels[t] ?? '') : '')),
        splits: () => xs,
        rotate: -35,
        size: 70,
        font: '11px system-ui',
      } as uPlot.Axis,
      { label: yLabel, font: '11px system-ui' },
    ],
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      { label: 'variant', value: (_u, v) => (v === null ? '' : (labels[v] ?? '')) },
      ...series.map((s) =>
        s.kind === 'bars'
          ? {
              label: s.label,
              fill: `${s.color}cc`,
              stroke: s.color,
              paths: uPlot.paths.bars!({ size: [0.6, 60] }),
              points: { show: false },
            }
          : { label: s.label, stroke: s.color, width: 0, points: { show: true, size: 8, fill: s.color } },
      ),
    ],
  };
  el.replaceChildren();
  return new uPlot(opts, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
}

/** Draws the latency and quality charts (uPlot), replacing earlier ones. */
export function renderCharts(latencyEl: HTMLElement, qualityEl: HTMLElement, rows: LabRow[]): void {
  for (const c of charts.splice(0)) c.destroy();
  if (rows.length === 0) return;
  charts.push(
    barChart(
      latencyEl,
      rows,
      [
        { label: 'p50 ms', values: rows.map((r) => r.latency.p50), color: '#0b5ed7', kind: 'bars' },
        { label: 'p99 ms', values: rows.map((r) => r.latency.p99), color: '#d63384', kind: 'points' },
      ],
      'ms',
    ),
    barChart(
      qualityEl,
      rows,
      [
        {
          label: 'HR@10 / utility NDCG@10',
          values: rows.map((r) => r.metrics[r.kind === 'items' ? 'HR@10' : 'UtilityNDCG@10'] ?? null),
          color: '#198754',
          kind: 'bars',
        },
      ],
      'metric',
    ),
  );
  latencyEl.setAttribute(
    'aria-label',
    `p50 latency per variant: ${rows.map((r) => `${rowLabel(r)} ${r.latency.p50.toFixed(3)} ms`).join('; ')}`,
  );
  qualityEl.setAttribute(
    'aria-label',
    `headline metric per variant: ${rows
      .map(
        (r) =>
          `${rowLabel(r)} ${(r.metrics[r.kind === 'items' ? 'HR@10' : 'UtilityNDCG@10'] ?? Number.NaN).toFixed(4)}`,
      )
      .join('; ')}`,
  );
}

/** Keeps the charts as wide as their figures (phones rotate, windows resize). */
export function resizeCharts(): void {
  for (const c of charts) c.setSize({ width: width(c.root), height: 260 });
}
