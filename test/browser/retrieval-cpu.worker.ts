/// <reference lib="webworker" />
// Runs CPU retrieval inside a dedicated worker (as the engine does), so the wasm backend's helper
// workers are nested workers: exactness against the reference, and the benchmark.
import type { ItemDtype } from '../../src/core/bundle/index.ts';
import { referenceTopK } from '../../src/core/retrieval/index.ts';
import { CpuRetriever, type KernelFlavor } from '../../src/engine/retrieval/cpu/index.ts';
import { benchCpuRetrievers, type CpuRetrievalTiming } from '../bench/browser/retrieval-cpu.bench.ts';
import { firstDifference, makeExclusions, makeQueries, makeTable } from '../shared/retrieval-tables.ts';

export interface TableSpec {
  dtype: ItemDtype;
  count: number;
  dim: number;
  duplicateEvery?: number;
}

export type RetrievalRequest =
  | { kind: 'exact'; table: TableSpec; threads: number; flavor?: KernelFlavor; queries: number; ks: number[] }
  | {
      kind: 'bench';
      table: TableSpec;
      runs: { threads?: number; kernel?: 'wasm' | 'js'; flavor?: KernelFlavor }[];
      queries: number;
      rounds?: number;
      k: number;
    };

export type RetrievalReply =
  | {
      kind: 'exact';
      backend: string;
      threads: number;
      flavor?: string;
      checked: number;
      /** Most threads that took part in one scan. */
      maxThreadsUsed: number;
      differences: string[];
      crossOriginIsolated: boolean;
    }
  | { kind: 'bench'; timings: CpuRetrievalTiming[] }
  | { kind: 'error'; error: string };

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;

async function handle(request: RetrievalRequest): Promise<RetrievalReply> {
  const { dtype, count, dim, duplicateEvery } = request.table;
  const table = makeTable(dtype, count, dim, { duplicateEvery, seed: 5 });
  if (request.kind === 'bench') {
    const queries = makeQueries(request.queries, dim, 99);
    const timings = await benchCpuRetrievers(table, queries, request.k, request.runs, {
      rounds: request.rounds,
    });
    return { kind: 'bench', timings };
  }
  const retriever = await CpuRetriever.create(table, { threads: request.threads, flavor: request.flavor });
  const differences: string[] = [];
  let checked = 0;
  let maxThreadsUsed = 0;
  try {
    const queries = makeQueries(request.queries, dim);
    for (const [qi, query] of queries.entries()) {
      const exclude = qi % 2 === 1 ? makeExclusions(count, 0.1, qi) : undefined;
      for (const k of request.ks) {
        const diff = firstDifference(
          await retriever.topK(query, k, exclude),
          referenceTopK(table, query, k, exclude),
        );
        checked++;
        maxThreadsUsed = Math.max(maxThreadsUsed, retriever.lastThreads);
        if (diff) differences.push(`query ${qi} k ${k}${exclude ? ' (exclusions)' : ''}: ${diff}`);
      }
    }
    return {
      kind: 'exact',
      backend: retriever.backend,
      threads: retriever.threads,
      flavor: retriever.flavor,
      checked,
      maxThreadsUsed,
      differences,
      crossOriginIsolated: globalThis.crossOriginIsolated,
    };
  } finally {
    retriever.dispose();
  }
}

scope.onmessage = async (event: MessageEvent<RetrievalRequest>) => {
  try {
    scope.postMessage(await handle(event.data));
  } catch (error) {
    scope.postMessage({
      kind: 'error',
      error: String((error as Error)?.stack ?? error),
    } satisfies RetrievalReply);
  }
};
