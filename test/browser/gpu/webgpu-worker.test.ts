import { describe, expect, it } from 'vitest';
import type { SaxpyReply, SaxpyRequest } from './saxpy.worker.ts';

function runInWorker(request: SaxpyRequest): Promise<SaxpyReply> {
  const worker = new Worker(new URL('./saxpy.worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<SaxpyReply>) => {
      worker.terminate();
      resolve(event.data);
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`worker failed: ${event.message}`));
    };
    worker.postMessage(request);
  });
}

describe('WebGPU inside a module Web Worker', () => {
  it('runs a WGSL compute shader whose output equals the JS reference', async () => {
    const n = 10_007; // not a multiple of the workgroup size, so the bounds check is exercised
    const a = 2.5;
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = Math.sin(i) * 100;
      y[i] = Math.cos(i * 0.37) * 10 - i / n;
    }
    const reply = await runInWorker({ a, x, y });
    expect(reply.error).toBeUndefined();
    expect(reply.ok).toBe(true);
    const result = reply.result!;
    expect(result.length).toBe(n);
    let maxError = 0;
    for (let i = 0; i < n; i++) {
      // Math.fround mirrors the GPU's f32 arithmetic; FMA contraction may differ by one rounding step.
      const expected = Math.fround(Math.fround(a * x[i]) + y[i]);
      maxError = Math.max(maxError, Math.abs(result[i] - expected) / Math.max(1, Math.abs(expected)));
    }
    expect(maxError).toBeLessThan(1e-6);
    console.info(`adapter: ${JSON.stringify(reply.adapter)}`);
  });
});
