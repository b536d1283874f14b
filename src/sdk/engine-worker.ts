/**
 * The engine's dedicated Web Worker, started in one place: the `new Worker(new URL(...))` form is what
 * bundlers recognise (and our library build keeps), so it must stay literal and stay single.
 */
export function startEngineWorker(): Worker {
  return new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), {
    type: 'module',
    name: 'edgerec',
  });
}
