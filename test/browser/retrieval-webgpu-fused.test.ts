/**
 * The radix pipeline's fused score+filter mode (`select: 'fused'`) against the CPU reference, in headless
 * Chromium on SwiftShader: indices and score bits must equal `referenceTopK`'s. Each compaction the device
 * can run is tested: workgroup atomics always, subgroup operations where the device has `subgroups` (the
 * run logs which ran).
 *
 * To keep the file short on SwiftShader (every kernel compiles in software), each variant runs one
 * compaction, alternating where the device has both (f32 and i8-dot4 atomics, f16 and i8-manual subgroups):
 *
 * - counts 1, 7 (< k), 200 (= k), 1000 × f32, f16, i8-dot4, i8-manual × k 1, 10, 200 × exclusions none /
 *   some / more than k; 100,003 rows: f32 k 10 and 200 with no exclusions and more than k, f16 and i8-dot4
 *   k 200 with more than k;
 * - 1,000,000 × 64 f32 (own device), k 200 with 100,300 exclusions;
 * - ties: a table drawn from 40 distinct rows (the candidates tie at the threshold and the select's index
 *   digits decide), with exclusions;
 * - forced overflow: every score equal, so every row ties at any threshold and the 65,537 candidates overflow
 *   CANDIDATES (65,536): the call falls back to the radix passes and is still exact;
 * - a batch (11 queries, chunks of 8 and 3, each its own exclusions) equals the reference query by query;
 * - dimension 67 (scalar loads) for f32, f16, i8-dot4;
 * - createGpuRetriever with `select: 'fused'` takes the radix pipeline even on a fallback adapter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedItemTable } from '../../src/core/bundle/index.ts';
import { exclusionBitset, referenceScores, referenceTopK } from '../../src/core/retrieval/index.ts';
import { topK } from '../../src/core/topk.ts';
import { createGpuRetriever, RadixGpuRetriever } from '../../src/engine/retrieval/webgpu/index.ts';
import {
  DIM,
  equalValues,
  exclusionsFor,
  expectSame,
  KS,
  normalQuery,
  pooledValues,
  type Tables,
  tablesOf,
  uniformValues,
  VARIANTS,
  type Variant,
} from './gpu-tables.ts';

/** Candidates a query may keep before the fallback (CANDIDATES in radix-shaders.ts). */
const CANDIDATES = 65_536;

let shared: GPUDevice;
const compactions: ('atomic' | 'subgroup')[] = ['atomic'];
beforeAll(async () => {
  const adapter = (await navigator.gpu.requestAdapter())!;
  const wanted = ['timestamp-query', 'subgroups'].filter((f) => adapter.features.has(f));
  shared = await adapter.requestDevice({ requiredFeatures: wanted as GPUFeatureName[] });
  if (shared.features.has('subgroups')) compactions.push('subgroup');
  console.info(
    `fused: compactions tested on ${adapter.info.description || adapter.info.vendor}: ${compactions}`,
  );
});
afterAll(() => shared.destroy());

/** The compaction variant i runs: subgroups for every other one where the device has them. */
const compactionOf = (variant: Variant): 'atomic' | 'subgroup' =>
  compactions[VARIANTS.indexOf(variant) % compactions.length];

async function withFused(
  table: DecodedItemTable,
  variant: Variant,
  body: (r: RadixGpuRetriever) => Promise<void>,
  ownDevice = false,
): Promise<void> {
  const retriever = await RadixGpuRetriever.create(table, {
    select: 'fused',
    subgroups: compactionOf(variant) === 'subgroup',
    forceManualInt8: variant.forceManualInt8,
    device: ownDevice ? undefined : shared,
  });
  try {
    expect(retriever.select).toBe('fused');
    expect(retriever.compaction).toBe(compactionOf(variant));
    await body(retriever);
  } finally {
    retriever.dispose();
  }
}

/** The fused pass ran (no fallback) and kept a few candidates, at least the k asked for. */
function expectFusedRan(retriever: RadixGpuRetriever, k: number, valid: number, label: string): void {
  const candidates = retriever.lastTimings!.candidates!;
  for (const c of candidates) {
    expect(c, `${label}: candidates`).toBeGreaterThanOrEqual(Math.min(k, valid));
    expect(c, `${label}: candidates`).toBeLessThanOrEqual(CANDIDATES / 2);
  }
  expect(retriever.fallbacks, `${label}: fallbacks`).toBe(0);
}

describe.each([1, 7, 200, 1000, 100_003])('fused select on %i random rows', (count) => {
  let tables: Tables;
  beforeAll(() => {
    tables = tablesOf(uniformValues(count, DIM, count), count, DIM);
  });
  // 100k: no i8-manual (it differs from i8-dot4 only in the integer dot, covered by the small tables).
  const large = count > 10_000;
  it.each(large ? VARIANTS.slice(0, 3) : VARIANTS)(
    '$name: top-k equals the reference (exclusions none, some, > k)',
    async (variant) => {
      const table = tables[variant.dtype];
      const query = normalQuery(DIM, 101);
      const exclusions = [undefined, exclusionsFor(table, query, 5, 7), exclusionsFor(table, query, 300, 9)];
      await withFused(table, variant, async (retriever) => {
        for (const [ei, exclude] of exclusions.entries())
          for (const k of large ? KS.slice(1) : KS) {
            // 100k: f32 with k 10 and 200, no exclusions and more than k; f16 and i8 the k-200, > k case only.
            if (large && (ei === 1 || (variant.dtype !== 'f32' && (ei === 0 || k === 10)))) continue;
            const label = `${variant.name} ${compactionOf(variant)} n=${count} excl${ei} k=${k}`;
            const ref = referenceTopK(table, query, k, exclude);
            expectSame(await retriever.topK(query, k, exclude), ref, label);
            expectFusedRan(retriever, k, ref.indices.length, label);
          }
      });
    },
    120_000,
  );
});

describe('fused select on 1,000,000 rows', () => {
  it('f32, k 200 with 100,300 exclusions, equals the reference', async () => {
    const count = 1_000_000;
    const table: DecodedItemTable = { dtype: 'f32', count, dim: DIM, values: uniformValues(count, DIM, 99) };
    const query = normalQuery(DIM, 303);
    const scores = referenceScores(table, query);
    const excluded = [...topK(scores, 300), ...Array.from({ length: count / 10 }, (_, i) => i * 10 + 3)];
    const exclude = exclusionBitset(count, excluded);
    for (const r of excluded) scores[r] = Number.NEGATIVE_INFINITY; // as referenceScores(…, exclude) has it
    const indices = topK(scores, 200);
    await withFused(
      table,
      VARIANTS[0],
      async (retriever) => {
        expectSame(
          await retriever.topK(query, 200, exclude),
          { indices, scores: Float32Array.from(indices, (i) => scores[i]) },
          'f32 1M k=200 excl',
        );
        expectFusedRan(retriever, 200, count, '1M');
        const t = retriever.lastTimings!;
        console.info(`fused 1M f32 k=200: ${t.total.toFixed(0)} ms, ${t.candidates} candidates`);
      },
      true,
    );
  }, 300_000);
});

describe('fused select with exact ties', () => {
  const count = 65_537;
  const pooled = tablesOf(pooledValues(count, DIM), count, DIM);
  const equal = tablesOf(equalValues(count, DIM), count, DIM);
  const query = normalQuery(DIM, 404);

  it.each(VARIANTS)(
    '$name: ties at the threshold go to the lower index, with and without exclusions',
    async (variant) => {
      const table = pooled[variant.dtype];
      const exclude = exclusionBitset(count, [
        0,
        2,
        3,
        100,
        ...Array.from({ length: 300 }, (_, i) => 500 + i),
      ]);
      await withFused(table, variant, async (retriever) => {
        for (const [k, excl] of [
          [256, undefined],
          [200, exclude],
        ] as const) {
          const label = `${variant.name} ${compactionOf(variant)} pooled k=${k}${excl ? ' excl' : ''}`;
          expectSame(await retriever.topK(query, k, excl), referenceTopK(table, query, k, excl), label);
          expectFusedRan(retriever, k, count, label);
        }
      });
    },
    120_000,
  );

  it.each([VARIANTS[0], VARIANTS[1]])(
    '$name: all-equal scores overflow the candidates and fall back to the radix passes, still exact',
    async (variant) => {
      const table = equal[variant.dtype];
      await withFused(table, variant, async (retriever) => {
        const got = await retriever.topK(query, 200);
        expect(retriever.fallbacks, `${variant.name}: fallbacks`).toBe(1);
        expectSame(got, referenceTopK(table, query, 200), `${variant.name} all-equal`);
        expect(Array.from(got.indices)).toEqual(Array.from({ length: 200 }, (_, i) => i));
        // The radix passes answered it: their timings carry no candidate counts.
        expect(retriever.lastTimings!.candidates).toBeUndefined();
      });
    },
    120_000,
  );
});

describe('fused select batches', () => {
  const count = 20_011;
  const tables = tablesOf(uniformValues(count, DIM, 21), count, DIM);

  it.each([VARIANTS[1]])(
    '$name: a batch of 11 queries (chunks of 8 and 3) equals the reference query by query',
    async (variant) => {
      const table = tables[variant.dtype];
      const queries = Array.from({ length: 11 }, (_, i) => normalQuery(DIM, 1000 + i));
      const excludes = queries.map((q, i) => (i % 3 === 0 ? undefined : exclusionsFor(table, q, i * 40, i)));
      await withFused(table, variant, async (retriever) => {
        const batch = await retriever.topKBatch(queries, 200, excludes);
        for (const [i, q] of queries.entries())
          expectSame(batch[i], referenceTopK(table, q, 200, excludes[i]), `${variant.name} #${i}`);
        expect(retriever.fallbacks).toBe(0);
        expect(retriever.lastTimings!.candidates).toHaveLength(3);
      });
    },
    120_000,
  );

  it('createGpuRetriever: select fused means the radix pipeline, on any adapter', async () => {
    const retriever = await createGpuRetriever(tables.f32, {
      device: shared,
      select: 'fused',
      subgroups: false,
    });
    try {
      expect(retriever.pipeline).toBe('radix');
      expect((retriever as RadixGpuRetriever).select).toBe('fused');
      const q = normalQuery(DIM, 8);
      expectSame(await retriever.topK(q, 50), referenceTopK(tables.f32, q, 50), 'createGpuRetriever fused');
    } finally {
      retriever.dispose();
    }
  });
});

describe('fused select with an odd dimension', () => {
  // dim 67: one word (not a vec4) a load for every dtype, and a query that pads its last vec4.
  const dim = 67;
  const tables = tablesOf(uniformValues(3001, dim, dim), 3001, dim);

  it.each(VARIANTS.slice(0, 3))('$name: dim 67, k 1 and 200', async (variant) => {
    const table = tables[variant.dtype];
    const query = normalQuery(dim, dim);
    await withFused(table, variant, async (retriever) => {
      for (const k of [1, 200]) {
        const label = `${variant.name} dim=${dim} k=${k}`;
        expectSame(await retriever.topK(query, k), referenceTopK(table, query, k), label);
        expectFusedRan(retriever, k, 3001, label);
      }
    });
  });
});
