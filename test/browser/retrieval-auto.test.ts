import { describe, expect, it } from 'vitest';
import { referenceTopK } from '../../src/core/retrieval/index.ts';
import { FallbackRetriever } from '../../src/engine/retrieval/select.ts';
import { firstDifference, makeExclusions, makeQueries, makeTable } from '../shared/retrieval-tables.ts';

describe("retrieval's `auto` choice in Chromium", () => {
  // SwiftShader is the only adapter here, and `auto` skips timing on a software adapter (the WASM kernel
  // always wins there); the test asks for the timing anyway, to run the path a hardware adapter takes.
  it('times WebGPU and the WASM kernel on the catalog, keeps the faster, and answers exactly', async () => {
    const table = makeTable('f32', 20_000, 64, { duplicateEvery: 9 });
    const retriever = await FallbackRetriever.create(table, 'auto', 2, { timeSoftwareAdapter: true });
    try {
      const { timings } = retriever;
      expect(timings).toBeDefined();
      expect(Object.keys(timings!).sort()).toEqual(['wasm', 'webgpu']);
      for (const ms of Object.values(timings!)) expect(ms).toBeGreaterThan(0);
      const faster = timings!.webgpu! <= timings!.wasm! ? 'webgpu' : 'wasm';
      expect(retriever.backend).toBe(faster);
      console.info(`auto on 20k × 64 f32: ${JSON.stringify(timings)} ms → ${retriever.backend}`);
      for (const query of makeQueries(3, 64)) {
        const actual = await retriever.topK(query, 200);
        expect(firstDifference(actual, referenceTopK(table, query, 200))).toBeUndefined();
      }
    } finally {
      retriever.dispose();
    }
  });

  it.each(['webgpu', 'wasm'] as const)(
    'topKBatch on %s (what multi-interest retrieval calls): each answer equals referenceTopK with the shared exclusions',
    async (device) => {
      const table = makeTable('f32', 5_003, 64, { duplicateEvery: 7 });
      const retriever = await FallbackRetriever.create(table, device, 2);
      try {
        expect(retriever.backend).toBe(device);
        const queries = makeQueries(4, 64, 11);
        const exclude = makeExclusions(table.count, 0.05);
        const results = await retriever.topKBatch(queries, 100, exclude);
        expect(results).toHaveLength(4);
        for (const [q, query] of queries.entries())
          expect(firstDifference(results[q], referenceTopK(table, query, 100, exclude))).toBeUndefined();
      } finally {
        retriever.dispose();
      }
    },
  );
});
