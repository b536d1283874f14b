import { describe, expect, it } from 'vitest';
import { referenceTopK } from '../../src/core/retrieval/index.ts';
import { CpuRetriever } from '../../src/engine/retrieval/cpu/index.ts';
import { firstDifference, makeExclusions, makeQueries, makeTable } from '../shared/retrieval-tables.ts';
import type { RetrievalReply, RetrievalRequest } from './retrieval-cpu.worker.ts';

function inWorker(request: RetrievalRequest): Promise<RetrievalReply> {
  const worker = new Worker(new URL('./retrieval-cpu.worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<RetrievalReply>) => {
      worker.terminate();
      if (event.data.kind === 'error') reject(new Error(event.data.error));
      else resolve(event.data);
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`worker failed: ${event.message}`));
    };
    worker.postMessage(request);
  });
}

describe('CpuRetriever in Chromium', () => {
  it('the page is cross-origin isolated (SharedArrayBuffer, wasm threads)', () => {
    expect(globalThis.crossOriginIsolated).toBe(true);
  });

  it('inside a dedicated worker, 2 threads: i8 1M × 64 equals the reference (k 1/10/200, exclusions)', async () => {
    const reply = await inWorker({
      kind: 'exact',
      table: { dtype: 'i8', count: 1_000_000, dim: 64, duplicateEvery: 7 },
      threads: 2,
      queries: 4,
      ks: [1, 10, 200],
    });
    expect(reply.kind).toBe('exact');
    if (reply.kind !== 'exact') return;
    console.info(
      `i8 1M×64 in a worker: ${reply.backend} ${reply.flavor} ×${reply.threads}, ${reply.checked} checks`,
    );
    expect([reply.backend, reply.threads]).toEqual(['wasm', 2]);
    expect(reply.differences).toEqual([]);
    expect(reply.checked).toBe(12);
    // The helper took part (it can sit out a scan it wakes too late for, but not all of them).
    expect(reply.maxThreadsUsed).toBe(2);
  });

  it('inside a dedicated worker, 2 threads: f32 and f16 100k × 64 equal the reference', async () => {
    for (const dtype of ['f32', 'f16'] as const) {
      const reply = await inWorker({
        kind: 'exact',
        table: { dtype, count: 100_003, dim: 64, duplicateEvery: 5 },
        threads: 2,
        queries: 4,
        ks: [1, 10, 200],
      });
      if (reply.kind !== 'exact') throw new Error('unexpected reply');
      expect([dtype, reply.backend, reply.threads]).toEqual([dtype, 'wasm', 2]);
      expect(reply.differences).toEqual([]);
    }
  });

  it('both kernels (relaxed and plain SIMD) are exact, 2 and 3 threads, in a worker', async () => {
    for (const flavor of ['relaxed', 'simd'] as const)
      for (const threads of [2, 3]) {
        const reply = await inWorker({
          kind: 'exact',
          table: { dtype: 'i8', count: 100_003, dim: 40, duplicateEvery: 3 },
          threads,
          flavor,
          queries: 4,
          ks: [1, 10, 200, 5000],
        });
        if (reply.kind !== 'exact') throw new Error('unexpected reply');
        expect([reply.backend, reply.flavor, reply.threads]).toEqual(['wasm', flavor, threads]);
        expect(reply.differences).toEqual([]);
      }
  });

  it('on the page itself (waits with Atomics.waitAsync): 2 threads, f32 100k and i8, exact', async () => {
    for (const dtype of ['f32', 'i8'] as const) {
      const table = makeTable(dtype, 100_003, 64, { duplicateEvery: 4 });
      const retriever = await CpuRetriever.create(table, { threads: 2 });
      try {
        expect([retriever.backend, retriever.threads]).toEqual(['wasm', 2]);
        const exclude = makeExclusions(table.count, 0.2);
        const queries = makeQueries(3, 64);
        // Concurrent calls are queued, one scan at a time.
        const results = await Promise.all(queries.map((q) => retriever.topK(q, 200, exclude)));
        for (const [i, result] of results.entries())
          expect(firstDifference(result, referenceTopK(table, queries[i], 200, exclude))).toBeUndefined();
      } finally {
        retriever.dispose();
      }
    }
  });
});

// VITE_EDGEREC_BENCH=1 npx vitest run --project browser test/browser/retrieval-cpu.test.ts
describe.runIf(import.meta.env.VITE_EDGEREC_BENCH === '1')('CPU retrieval benchmark (in a worker)', () => {
  const runs = [
    { kernel: 'wasm' as const, threads: 2 },
    { kernel: 'wasm' as const, threads: 1 },
    { kernel: 'wasm' as const, threads: 2, flavor: 'simd' as const },
    { kernel: 'wasm' as const, threads: 1, flavor: 'simd' as const },
  ];
  for (const [label, table, k, extra] of [
    ['i8 1M × 64, top-200', { dtype: 'i8', count: 1_000_000, dim: 64 }, 200, []],
    ['i8 100k × 64, top-200', { dtype: 'i8', count: 100_000, dim: 64 }, 200, [{ kernel: 'js' as const }]],
    ['f32 100k × 64, top-200', { dtype: 'f32', count: 100_000, dim: 64 }, 200, [{ kernel: 'js' as const }]],
  ] as const)
    it(label, { timeout: 600_000 }, async () => {
      const reply = await inWorker({
        kind: 'bench',
        table,
        runs: [...runs.slice(0, table.dtype === 'i8' ? 4 : 2), ...extra],
        queries: 40,
        rounds: 3,
        k,
      });
      if (reply.kind !== 'bench') throw new Error('unexpected reply');
      for (const t of reply.timings)
        console.info(
          `${label}: ${t.backend} ${t.flavor} ×${t.threads}: p50 ${t.p50} ms, p99 ${t.p99} ms, min ${t.min} ms, mean ${t.mean} ms (${t.runs} queries, ${t.threadsUsed} threads used)`,
        );
    });
});
