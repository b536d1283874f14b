// Worker bootstrap for `sampleNeighbors`. Node 20 does not pass loader hooks registered in the main thread
// (tsx's `register()` in bin/edgerec.mjs, or vitest's transform) on to worker threads, so this plain-JS
// entry registers tsx in the worker itself and then loads the TypeScript worker module.
import { register } from 'tsx/esm/api';

register();
await import('./walk-worker.ts');
