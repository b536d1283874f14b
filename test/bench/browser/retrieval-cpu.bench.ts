/**
 * Micro-benchmark of CPU retrieval: p50 / p99 latency of `topK` over a set of queries, after warm-up.
 * Call it wherever the engine runs (inside a dedicated worker for realistic numbers: the wasm backend's
 * calling thread then blocks in Atomics.wait instead of polling the event loop). The browser runner is
 * test/browser/retrieval-cpu.test.ts ("benchmark" block, VITE_EDGEREC_BENCH=1).
 */
import type { DecodedItemTable } from '../../../src/core/bundle/index.ts';
import { percentile } from '../../../src/core/lab/metrics.ts';
import type { ExclusionBitset } from '../../../src/core/retrieval/index.ts';
import { CpuRetriever, type CpuRetrieverOptions } from '../../../src/engine/retrieval/cpu/index.ts';

export interface CpuRetrievalTiming {
  backend: 'wasm' | 'js';
  threads: number;
  flavor: string;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  runs: number;
  /** Mean number of threads that took part in a scan (helpers that wake late sit a scan out). */
  threadsUsed: number;
}

export interface BenchOptions {
  warmup?: number;
  /** Passes over the queries. */
  rounds?: number;
  exclude?: ExclusionBitset;
}

/** p50 / p99 of one configuration. */
export async function benchCpuRetrieval(
  table: DecodedItemTable,
  queries: Float32Array[],
  k: number,
  options: CpuRetrieverOptions & BenchOptions = {},
): Promise<CpuRetrievalTiming> {
  const { warmup, rounds, exclude, ...create } = options;
  return (await benchCpuRetrievers(table, queries, k, [create], { warmup, rounds, exclude }))[0];
}

/**
 * Several configurations on the same table, taking turns a pass over the queries each (`rounds` times,
 * two warm-up queries at each turn), so that a machine whose load changes during the run (other
 * processes on shared cores) affects them all alike, while each pass keeps its own table hot in cache.
 */
export async function benchCpuRetrievers(
  table: DecodedItemTable,
  queries: Float32Array[],
  k: number,
  configs: CpuRetrieverOptions[],
  { warmup = 5, rounds = 3, exclude }: BenchOptions = {},
): Promise<CpuRetrievalTiming[]> {
  const retrievers: CpuRetriever[] = [];
  try {
    for (const config of configs) retrievers.push(await CpuRetriever.create(table, config));
    for (const r of retrievers)
      for (let i = 0; i < warmup; i++) await r.topK(queries[i % queries.length], k, exclude);
    const samples = retrievers.map(() => [] as number[]);
    const used = retrievers.map(() => 0);
    for (let round = 0; round < rounds; round++)
      for (const [i, r] of retrievers.entries()) {
        for (let w = 0; w < Math.min(2, warmup); w++) await r.topK(queries[w % queries.length], k, exclude);
        for (const query of queries) {
          const t = performance.now();
          await r.topK(query, k, exclude);
          samples[i].push(performance.now() - t);
          used[i] += r.lastThreads;
        }
      }
    const round3 = (x: number) => Math.round(x * 1000) / 1000;
    return retrievers.map((r, i) => {
      const s = samples[i].sort((a, b) => a - b);
      return {
        backend: r.backend,
        threads: r.threads,
        flavor: r.flavor ?? 'ts',
        p50: round3(percentile(s, 0.5)),
        p99: round3(percentile(s, 0.99)),
        mean: round3(s.reduce((a, b) => a + b, 0) / s.length),
        min: round3(s[0]),
        runs: s.length,
        threadsUsed: round3(used[i] / s.length),
      };
    });
  } finally {
    for (const r of retrievers) r.dispose();
  }
}
