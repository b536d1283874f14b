import { detectCapabilities } from '../engine/index.ts';
import { startFeed } from './feed.ts';

const list = document.querySelector<HTMLDListElement>('#capabilities')!;

function show(rows: [string, string][]): void {
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
}

const caps = await detectCapabilities();
const gpu = caps.webgpu;
show([
  [
    'WebGPU',
    gpu.available
      ? `${gpu.vendor} ${gpu.architecture}${gpu.isFallbackAdapter ? ' (software fallback)' : ''}`
      : `unavailable: ${gpu.reason}`,
  ],
  ['shader-f16', gpu.available ? String(gpu.shaderF16) : '—'],
  ['packed 4×8 dot product', gpu.available ? String(gpu.packed4x8DotProduct) : '—'],
  ['cross-origin isolated', String(caps.crossOriginIsolated)],
  ['hardware threads', String(caps.hardwareConcurrency)],
]);

startFeed(document.querySelector<HTMLOListElement>('#feed')!, document.querySelector('#feed-status')!).catch(
  (error: unknown) => {
    document.querySelector('#feed-status')!.textContent =
      `could not start the recommender: ${error instanceof Error ? error.message : String(error)}`;
  },
);
