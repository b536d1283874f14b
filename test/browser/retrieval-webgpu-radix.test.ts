/**
 * The radix GPU pipeline (RadixGpuRetriever) against the CPU reference, in headless Chromium on SwiftShader:
 * indices and score bits must be identical to `referenceTopK`.
 *
 * - counts 1, 7, 1000, 4,099 × f32, f16, i8-dot4, i8-manual × k 1, 10, 200 × exclusions none / some
 *   (10% of rows and the 5 best) / more than k (the 300 best and 10%), two queries;
 * - 100,003 rows, every dtype, the same k and exclusions, one query;
 * - 1,000,000 × 64, f32 (own device, 256 MB table), k 1, 10, 200, and k 200 with 100,300 exclusions;
 * - ties: an all-equal table (every score equal: the select must resolve the index digits), a table drawn
 *   from 40 distinct rows, a zero query, k up to 256;
 * - batches (11 queries: a chunk of 8 and one of 3, each with its own exclusions) equal single calls;
 *   concurrent calls through the readback ring equal sequential ones; odd dimensions (1, 15, 67);
 * - per-pass GPU times present exactly when the device has `timestamp-query`;
 * - createGpuRetriever's default: `merge` on a fallback adapter (SwiftShader), `radix` when asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedItemTable } from '../../src/core/bundle/index.ts';
import {
  exclusionBitset,
  referenceScores,
  referenceTopK,
  type TopKResult,
} from '../../src/core/retrieval/index.ts';
import { topK } from '../../src/core/topk.ts';
import {
  createGpuRetriever,
  excludedRows,
  RadixGpuRetriever,
} from '../../src/engine/retrieval/webgpu/index.ts';
import {
  DIM,
  equalValues,
  exclusionsFor,
  expectSame,
  hasPackedDot,
  KS,
  normalQuery,
  pooledValues,
  type Tables,
  tablesOf,
  uniformValues,
  VARIANTS,
  type Variant,
} from './gpu-tables.ts';

let shared: GPUDevice;
beforeAll(async () => {
  const adapter = (await navigator.gpu.requestAdapter())!;
  shared = await adapter.requestDevice({
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
  });
});
afterAll(() => shared.destroy());

async function withRadix<T>(
  table: DecodedItemTable,
  variant: Variant,
  body: (r: RadixGpuRetriever) => Promise<T>,
  options: { ownDevice?: boolean; maxK?: number } = {},
): Promise<T> {
  const retriever = await RadixGpuRetriever.create(table, {
    forceManualInt8: variant.forceManualInt8,
    device: options.ownDevice ? undefined : shared,
    maxK: options.maxK,
  });
  try {
    if (variant.dtype === 'i8')
      expect(retriever.variant).toBe(variant.forceManualInt8 || !hasPackedDot ? 'i8-manual' : 'i8-dot4');
    return await body(retriever);
  } finally {
    retriever.dispose();
  }
}

/** Every k, with no exclusions, some, and more than k, for one or two queries. */
async function checkAll(
  table: DecodedItemTable,
  variant: Variant,
  label: string,
  queryCount: number,
): Promise<void> {
  const queries = [normalQuery(table.dim, 101), normalQuery(table.dim, 202)].slice(0, queryCount);
  const exclusions = queries.map((q, i) => [
    undefined,
    exclusionsFor(table, q, 5, 7 + i),
    exclusionsFor(table, q, 300, 9 + i),
  ]);
  await withRadix(table, variant, async (retriever) => {
    for (const [qi, query] of queries.entries())
      for (const [ei, exclude] of exclusions[qi].entries())
        for (const k of KS)
          expectSame(
            await retriever.topK(query, k, exclude),
            referenceTopK(table, query, k, exclude),
            `${variant.name} ${label} q${qi} excl${ei} k=${k}`,
          );
  });
}

describe.each([1, 7, 1000, 4099, 100_003])('RadixGpuRetriever on %i random rows', (count) => {
  let tables: Tables;
  beforeAll(() => {
    tables = tablesOf(uniformValues(count, DIM, count), count, DIM);
  });
  it.each(VARIANTS)(
    '$name: top-k equals the reference (k 1, 10, 200; exclusions none, some, > k)',
    async (variant) => {
      await checkAll(tables[variant.dtype], variant, `n=${count}`, count > 10_000 ? 1 : 2);
    },
    120_000,
  );
});

describe('RadixGpuRetriever on 1,000,000 rows', () => {
  const count = 1_000_000;
  let table: DecodedItemTable;
  const query = normalQuery(DIM, 303);
  beforeAll(() => {
    table = { dtype: 'f32', count, dim: DIM, values: uniformValues(count, DIM, 99) };
  }, 300_000);
  afterAll(() => {
    table = undefined as unknown as DecodedItemTable;
  });

  // f32 only, to keep the file near two minutes on SwiftShader: f16 and i8 share every select pass and
  // differ only in the score kernel, which the 100,003-row runs cover.
  it.each([VARIANTS[0]])(
    '$name: top-k equals the reference',
    async (variant) => {
      const scores = referenceScores(table, query);
      const exclude = exclusionBitset(count, [
        ...topK(scores, 300),
        ...Array.from({ length: count / 10 }, (_, i) => i * 10 + 3),
      ]);
      const excludedScores = referenceScores(table, query, exclude);
      const log: string[] = [];
      await withRadix(
        table,
        variant,
        async (retriever) => {
          for (const k of KS) {
            const indices = topK(scores, k);
            expectSame(
              await retriever.topK(query, k),
              { indices, scores: Float32Array.from(indices, (i) => scores[i]) },
              `${variant.name} 1M k=${k}`,
            );
            const gpu = retriever.lastTimings!.gpu;
            const passes = gpu
              ? ` (GPU: score ${gpu.score.toFixed(0)}, select ${gpu.select.toFixed(0)}, filter ${gpu.filter.toFixed(0)}, sort ${gpu.sort.toFixed(0)} ms)`
              : '';
            log.push(`k=${k} ${retriever.lastTimings!.total.toFixed(0)} ms${passes}`);
          }
          const indices = topK(excludedScores, 200);
          expectSame(
            await retriever.topK(query, 200, exclude),
            { indices, scores: Float32Array.from(indices, (i) => excludedScores[i]) },
            `${variant.name} 1M k=200 excl`,
          );
          log.push(`k=200 excl ${retriever.lastTimings!.total.toFixed(0)} ms`);
        },
        { ownDevice: true },
      );
      console.info(`radix 1M ${variant.name}: ${log.join(', ')}`);
    },
    300_000,
  );
});

describe('RadixGpuRetriever with exact ties', () => {
  const count = 65_537;
  const equal = tablesOf(equalValues(count, DIM), count, DIM);
  const pooled = tablesOf(pooledValues(count, DIM), count, DIM);
  const queries = { random: normalQuery(DIM, 404), zero: new Float32Array(DIM) };

  it.each(VARIANTS)(
    '$name: ties go to the lower index (all-equal and pooled tables)',
    async (variant) => {
      for (const [tableName, tables] of [
        ['all-equal', equal],
        ['pooled', pooled],
      ] as const) {
        const table = tables[variant.dtype];
        await withRadix(table, variant, async (retriever) => {
          for (const [queryName, query] of Object.entries(queries))
            for (const k of [1, 10, 200, 256])
              expectSame(
                await retriever.topK(query, k),
                referenceTopK(table, query, k),
                `${variant.name} ${tableName} ${queryName} k=${k}`,
              );
          const all = await retriever.topK(queries.random, 256);
          if (tableName === 'all-equal')
            expect(Array.from(all.indices)).toEqual(Array.from({ length: 256 }, (_, i) => i));
          const exclude = exclusionBitset(count, [
            0,
            2,
            3,
            100,
            ...Array.from({ length: 300 }, (_, i) => 500 + i),
          ]);
          expectSame(
            await retriever.topK(queries.random, 200, exclude),
            referenceTopK(table, queries.random, 200, exclude),
            `${variant.name} ${tableName} excluded`,
          );
        });
      }
    },
    120_000,
  );
});

describe('RadixGpuRetriever batches, the readback ring, edges', () => {
  const count = 20_011;
  const tables = tablesOf(uniformValues(count, DIM, 21), count, DIM);

  it.each(VARIANTS)(
    '$name: a batch of 11 queries equals 11 single calls, concurrent calls equal sequential ones',
    async (variant) => {
      const table = tables[variant.dtype];
      const queries = Array.from({ length: 11 }, (_, i) => normalQuery(DIM, 1000 + i));
      const excludes = queries.map((q, i) => (i % 3 === 0 ? undefined : exclusionsFor(table, q, i * 40, i)));
      await withRadix(table, variant, async (retriever) => {
        expect(retriever.maxBatch).toBe(8);
        const batch = await retriever.topKBatch(queries, 200, excludes);
        expect(retriever.lastTimings!.queries).toBe(3); // the second chunk finished last
        const single: TopKResult[] = [];
        for (const [i, q] of queries.entries()) single.push(await retriever.topK(q, 200, excludes[i]));
        for (const [i, q] of queries.entries()) {
          expectSame(single[i], referenceTopK(table, q, 200, excludes[i]), `${variant.name} single #${i}`);
          expectSame(batch[i], single[i], `${variant.name} batch #${i}`);
        }
        // Six calls at once through a ring of three readback buffers, different k and exclusions.
        const concurrent = await Promise.all(
          queries.slice(0, 6).map((q, i) => retriever.topK(q, [1, 10, 200][i % 3], excludes[i])),
        );
        for (const [i, q] of queries.slice(0, 6).entries())
          expectSame(
            concurrent[i],
            referenceTopK(table, q, [1, 10, 200][i % 3], excludes[i]),
            `${variant.name} concurrent #${i}`,
          );
        const t = retriever.lastTimings!;
        expect(t.passes).toBeGreaterThanOrEqual(5);
        if (retriever.timestamps) {
          expect(t.gpu).toBeDefined();
          for (const v of [t.gpu!.score, t.gpu!.select, t.gpu!.filter, t.gpu!.sort])
            expect(v).toBeGreaterThanOrEqual(0);
        } else expect(t.gpu).toBeUndefined();
      });
    },
    120_000,
  );

  it('k > count, all excluded, all but 3 excluded, k = 0, k > maxK, a wrong query length', async () => {
    const small = tablesOf(uniformValues(7, DIM, 11), 7, DIM);
    const query = normalQuery(DIM, 505);
    for (const variant of VARIANTS) {
      await withRadix(small[variant.dtype], variant, async (retriever) => {
        for (const k of [7, 10, 256])
          expectSame(
            await retriever.topK(query, k),
            referenceTopK(small[variant.dtype], query, k),
            `${variant.name} k=${k}`,
          );
        expect(
          (await retriever.topK(query, 10, exclusionBitset(7, [0, 1, 2, 3, 4, 5, 6]))).indices.length,
        ).toBe(0);
        expect((await retriever.topK(query, 0)).indices.length).toBe(0);
        await expect(retriever.topK(query, 257)).rejects.toThrow(RangeError);
        await expect(retriever.topK(new Float32Array(DIM - 1), 5)).rejects.toThrow(RangeError);
      });
      const table = tables[variant.dtype];
      await withRadix(table, variant, async (retriever) => {
        const keep = [17, 2500, 19_999];
        const exclude = exclusionBitset(
          count,
          Array.from({ length: count }, (_, i) => i).filter((i) => !keep.includes(i)),
        );
        const got = await retriever.topK(query, 200, exclude);
        expect(Array.from(got.indices).sort((a, b) => a - b)).toEqual(keep);
        expectSame(got, referenceTopK(table, query, 200, exclude), `${variant.name} 3 left`);
      });
    }
  }, 120_000);

  it('odd dimensions (1, 15, 67) and maxK 1024', async () => {
    for (const dim of [1, 15, 67]) {
      const odd = tablesOf(uniformValues(3001, dim, dim), 3001, dim);
      const q = normalQuery(dim, dim);
      for (const variant of VARIANTS)
        await withRadix(odd[variant.dtype], variant, async (retriever) => {
          for (const k of [1, 200])
            expectSame(
              await retriever.topK(q, k),
              referenceTopK(odd[variant.dtype], q, k),
              `${variant.name} dim=${dim} k=${k}`,
            );
        });
    }
    const q = normalQuery(DIM, 7);
    await withRadix(
      tables.f32,
      VARIANTS[0],
      async (retriever) => {
        for (const k of [1024, 700])
          expectSame(await retriever.topK(q, k), referenceTopK(tables.f32, q, k), `maxK 1024 k=${k}`);
      },
      { maxK: 1024 },
    );
  }, 120_000);

  it('excludedRows lists the set bits below count, ascending', () => {
    const bits = exclusionBitset(100, [99, 0, 31, 32, 64, 5]);
    expect(Array.from(excludedRows(bits, 100))).toEqual([0, 5, 31, 32, 64, 99]);
    expect(Array.from(excludedRows(bits, 40))).toEqual([0, 5, 31, 32]);
    expect(excludedRows(undefined, 10).length).toBe(0);
  });

  it('createGpuRetriever: merge by default on a fallback adapter, radix when asked', async () => {
    const adapter = (await navigator.gpu.requestAdapter())!;
    const table = tables.f32;
    const byDefault = await createGpuRetriever(table, { device: shared });
    const radix = await createGpuRetriever(table, { device: shared, pipeline: 'radix' });
    try {
      expect(byDefault.pipeline).toBe(adapter.info.isFallbackAdapter ? 'merge' : 'radix');
      expect(radix.pipeline).toBe('radix');
      const q = normalQuery(DIM, 8);
      expectSame(await radix.topK(q, 50), await byDefault.topK(q, 50), 'radix vs default');
    } finally {
      byDefault.dispose();
      radix.dispose();
    }
  });
});
