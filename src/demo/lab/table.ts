import { formatMetric, formatMs, type LabRow, metricColumns } from '../../core/lab/index.ts';

const cell = (tag: 'td' | 'th', text: string, className?: string): HTMLTableCellElement => {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
};

/** `items f32`, `ranker int8-dq`, `file my-ranker.int8-dq.onnx` (a ranker file of yours). */
const variantLabel = (row: LabRow) =>
  `${row.source === 'file' ? 'file' : row.kind === 'items' ? 'items' : 'ranker'} ${row.variant}`;

export const rowLabel = (row: LabRow) => `${variantLabel(row)} · ${row.device}`;

function bytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

/** Fills the results table: one row per variant × device, the f32 / fp32 rows marked as baselines. */
export function renderTable(table: HTMLTableElement, rows: LabRow[]): void {
  const metrics = metricColumns(rows);
  const head = document.createElement('tr');
  for (const title of ['variant', 'device', 'ran on', 'size', ...metrics, 'p50 ms', 'p99 ms', 'speed-up'])
    head.append(Object.assign(cell('th', title), { scope: 'col' }));
  table.tHead!.replaceChildren(head);
  table.tBodies[0].replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement('tr');
      if (row.source === 'file' ? row.dtype === 'fp32' : row.variant === 'f32' || row.variant === 'fp32')
        tr.className = 'baseline';
      const name = cell('th', variantLabel(row));
      if (row.source === 'file')
        name.title = `your ranker file, ${row.form ? `${row.dtype}-${row.form}` : row.dtype}`;
      name.scope = 'row';
      tr.append(
        name,
        cell('td', row.device, 'text'),
        cell('td', row.backend, 'text'),
        Object.assign(cell('td', bytes(row.bytes)), { title: `${row.bytes} bytes` }),
        ...metrics.map((m) => cell('td', formatMetric(row.metrics[m]))),
        Object.assign(cell('td', formatMs(row.latency.p50)), {
          title: `${row.latency.samples} samples, ${row.unit}`,
        }),
        cell('td', formatMs(row.latency.p99)),
        cell('td', row.speedup === null ? '–' : `${row.speedup.toFixed(2)}×`),
      );
      return tr;
    }),
  );
}
