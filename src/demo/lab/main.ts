/**
 * The quantization lab page: a form, a progress bar fed by the lab worker (`workers/lab.worker.ts`),
 * then a results table, two uPlot charts and JSON / CSV exports. `?bundle=` picks the bundles folder
 * (default `/models/`; `/v1/bundles/` is the sync server's registry).
 */
import { proxy, transfer, wrap } from 'comlink';
import type { ItemDtype, ModelDtype } from '../../core/bundle/index.ts';
import {
  describeRetrievalSpace,
  type LabDevice,
  type LabEnvironment,
  type LabRequest,
  type LabSplit,
  type LabWorkerApi,
} from '../../core/lab/index.ts';
import { renderCharts, resizeCharts } from './charts.ts';
import { setExports } from './export.ts';
import { setupReplayTab } from './replay-tab.ts';
import { renderTable } from './table.ts';
import { setupTabs } from './tabs.ts';

const $ = <T extends Element>(selector: string) => document.querySelector<T>(selector)!;
const form = $<HTMLFormElement>('#lab-form');
const runButton = $<HTMLButtonElement>('#lab-run');
const progress = $<HTMLProgressElement>('#lab-progress');
const status = $<HTMLParagraphElement>('#lab-status');
const formError = $<HTMLSpanElement>('#lab-form-error');
const results = $<HTMLElement>('#lab-results');
const rankerFiles = $<HTMLInputElement>('#lab-ranker-files');
const rankerFilesList = $<HTMLParagraphElement>('#lab-ranker-files-list');

const chosenFiles = () => [...(rankerFiles.files ?? [])];
rankerFiles.addEventListener('change', () => {
  const files = chosenFiles();
  rankerFilesList.textContent = files.length
    ? `${files.length} file${files.length > 1 ? 's' : ''}: ${files.map((f) => `${f.name} (${(f.size / 1e3).toFixed(1)} kB)`).join(', ')}`
    : '';
});

const bundleUrl = new URLSearchParams(location.search).get('bundle') || '/models/';
$('#lab-bundle').textContent = bundleUrl;

const worker = new Worker(new URL('../../../workers/lab.worker.ts', import.meta.url), {
  type: 'module',
  name: 'edgerec-lab',
});
const lab = wrap<LabWorkerApi>(worker);
setupTabs($<HTMLElement>('.tabs'));
setupReplayTab(lab, bundleUrl);

function showEnvironment(env: LabEnvironment): void {
  const rows: [string, string][] = [
    [
      'WebGPU',
      env.webgpu.available
        ? `${env.webgpu.description}${env.webgpu.fallback ? ' (software fallback)' : ''}`
        : `unavailable: ${env.webgpu.description}`,
    ],
    ['cross-origin isolated', String(env.crossOriginIsolated)],
    ['hardware threads', String(env.hardwareConcurrency)],
    ['ORT wasm threads', String(env.ortThreads)],
    ['user agent', env.userAgent],
  ];
  const list = $<HTMLDListElement>('#lab-environment');
  list.replaceChildren(
    ...rows.flatMap(([term, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = value;
      return [dt, dd];
    }),
  );
  list.removeAttribute('aria-busy');
  const webgpu = $<HTMLInputElement>('#lab-device-webgpu');
  const note = $<HTMLParagraphElement>('#lab-webgpu-note');
  if (!env.webgpu.available) {
    webgpu.disabled = true;
    webgpu.checked = false;
    note.textContent = 'WebGPU is not available in this browser.';
  } else if (env.webgpu.fallback) {
    note.textContent = 'The WebGPU adapter is a software fallback: its timings are not a GPU’s.';
  } else webgpu.checked = true;
}

function checked<T extends string>(name: string): T[] {
  return [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map(
    (i) => i.value as T,
  );
}

function request(): LabRequest | string {
  const split = (checked<LabSplit>('split')[0] ?? 'valid') as LabSplit;
  const items = checked<ItemDtype>('items');
  const rankers = checked<ModelDtype>('rankers');
  const devices = checked<LabDevice>('devices');
  const runs = Number($<HTMLInputElement>('#lab-runs').value);
  if (items.length + rankers.length + chosenFiles().length === 0)
    return 'Choose at least one item table or ranker, or a ranker file.';
  if (devices.length === 0) return 'Choose at least one device.';
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) return 'Runs must be a whole number from 1 to 20.';
  return { bundleUrl, split, items, rankers, devices, runs };
}

let running = false;
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (running) return;
  const req = request();
  formError.textContent = typeof req === 'string' ? req : '';
  if (typeof req === 'string') return;
  running = true;
  document.body.dataset.labState = 'running';
  runButton.disabled = true;
  form.setAttribute('aria-busy', 'true');
  progress.removeAttribute('value');
  status.textContent = 'starting…';
  const started = performance.now();
  try {
    // Your rankers: read here, transferred (not copied) to the worker, which checks their contract.
    const files = await Promise.all(
      chosenFiles().map(async (f) => ({ name: f.name, bytes: await f.arrayBuffer() })),
    );
    const withFiles: LabRequest = files.length ? { ...req, rankerFiles: files } : req;
    const result = await lab.run(
      transfer(
        withFiles,
        files.map((f) => f.bytes),
      ),
      proxy((p) => {
        if (p.phase === 'run' && p.total > 0) {
          progress.max = p.total;
          progress.value = p.done;
          status.textContent = `${p.label}: ${Math.round((100 * p.done) / p.total)}%`;
        } else status.textContent = `loading ${p.label}…`;
      }),
    );
    progress.max = 1;
    progress.value = 1;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    status.textContent = `done in ${seconds} s: ${result.rows.length} variants`;
    results.hidden = false;
    $<HTMLElement>('#lab-charts-section').hidden = false;
    $('#lab-summary').textContent =
      `Bundle ${result.bundle}, ${result.split} window: ${result.users} users (retrieval), ${result.examples} ranker examples; ` +
      `item tables: ${describeRetrievalSpace(result.retrieval)}; ` +
      `${result.runs} timing pass${result.runs > 1 ? 'es' : ''}. Latency: one top-${result.k} scan per query, one batch of ` +
      `${result.rankerBatch} rows per ranker run. Speed-up: against the f32 / fp32 row of the same device. ` +
      `Node: npx edgerec lab run --split ${result.split}${files.map((f) => ` --ranker-file ${f.name}`).join('')}.`;
    $('#lab-caption').textContent = `Variants on the ${result.split} window (bundle ${result.bundle})`;
    renderTable($<HTMLTableElement>('#lab-results table'), result.rows);
    setExports($('#lab-exports'), result);
    $('#lab-failures').textContent = result.failures.length ? `Not run: ${result.failures.join('; ')}` : '';
    renderCharts($('#lab-chart-latency'), $('#lab-chart-quality'), result.rows);
    document.body.dataset.labState = 'done';
  } catch (error) {
    progress.max = 1;
    progress.value = 0;
    // A refused ranker file's message names the file, the input and what was expected.
    status.textContent = `failed: ${error instanceof Error ? error.message : String(error)}`;
    document.body.dataset.labState = 'error';
  } finally {
    running = false;
    runButton.disabled = false;
    form.removeAttribute('aria-busy');
  }
});

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(resizeCharts, 150);
});

lab
  .environment()
  .then((env) => {
    showEnvironment(env);
    document.body.dataset.labState ??= 'ready';
  })
  .catch((error: unknown) => {
    $('#lab-environment').textContent =
      `could not probe: ${error instanceof Error ? error.message : String(error)}`;
  });
