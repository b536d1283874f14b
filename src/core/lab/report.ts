/** Exports of a lab result: CSV (one row per variant) and a plain-text table. */
import type { LabResult, LabRow } from './run.ts';

/** Metric columns of a result, in first-appearance order. */
export function metricColumns(rows: LabRow[]): string[] {
  const keys: string[] = [];
  for (const row of rows) for (const key of Object.keys(row.metrics)) if (!keys.includes(key)) keys.push(key);
  return keys;
}

const csvCell = (value: unknown): string => {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

export function labCsv(result: LabResult): string {
  const metrics = metricColumns(result.rows);
  const header = [
    'runtime',
    'bundle',
    'split',
    'kind',
    'variant',
    'device',
    'backend',
    'bytes',
    ...metrics,
    'p50_ms',
    'p99_ms',
    'mean_ms',
    'samples',
    'unit',
    'speedup',
    'source',
    'dtype',
  ];
  const lines = [header.join(',')];
  for (const row of result.rows)
    lines.push(
      [
        result.runtime,
        result.bundle,
        result.split,
        row.kind,
        row.variant,
        row.device,
        row.backend,
        row.bytes,
        ...metrics.map((m) => (m in row.metrics ? row.metrics[m] : '')),
        row.latency.p50,
        row.latency.p99,
        row.latency.mean,
        row.latency.samples,
        row.unit,
        row.speedup ?? '',
        row.source ?? 'bundle',
        row.form ? `${row.dtype}-${row.form}` : row.dtype,
      ]
        .map(csvCell)
        .join(','),
    );
  return `${lines.join('\n')}\n`;
}

/** Formats a number for tables: metrics to 4 decimals, latency to 3 significant places. */
export function formatMetric(value: number | undefined): string {
  if (value === undefined) return '';
  return Number.isNaN(value) ? 'NaN' : value.toFixed(4);
}

export function formatMs(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value >= 10 ? value.toFixed(1) : value >= 1 ? value.toFixed(2) : value.toFixed(3);
}
