/**
 * The WebGPU retrieval kernels against the CPU reference, in headless Chromium on SwiftShader: indices and
 * scores must be identical (scores compared bit for bit).
 *
 * Matrix (dim 64, seeded uniform tables; f16 / i8 built with encodeF16 / quantizeTableI8):
 * - counts 1, 7, 1000, 65,537 × variants f32, f16, i8-dot4, i8-manual × k 1, 10, 200 × two queries ×
 *   with and without exclusions (10% random rows plus the reference's 5 best);
 * - 1,000,000 rows (the retriever makes its own device and asks for 256 MB bindings): f32 and i8-dot4 (the
 *   path SwiftShader runs for i8) at k 1, 10, 200 and at k 200 with exclusions (10% of rows plus the 3
 *   best); f16 and i8-manual differ from those only in how a row is unpacked, which the 65,537-row runs
 *   cover, so 1M rows add little for them (~15 s of CI);
 * - ties: a table of 65,537 rows drawn from 40 distinct rows (every score tied ~1,600 times, across
 *   workgroups and merge passes), an integer-valued table (scores are small integers), a zero query (all
 *   scores 0: the answer is rows 0..k-1), for every variant, k up to 256;
 * - edges: k > count, everything excluded, all but 3 excluded, a short bitset, k = 0, k = maxK, k > maxK,
 *   a wrong query length, concurrent calls, maxK = 1024, odd dimensions (1, 15, 67), limits the device cannot
 *   meet (WebGpuUnavailableError), device loss (DeviceLostError);
 * - in a dedicated worker: the FMA / unpack2x16float probes, the kernels on 65,537 rows, device loss.
 *
 * Runtime on the 2-core CI box (SwiftShader): ~106 s for the file in the last full run with all four
 * variants at 1M (2026-12-06), of which the 1M block ~36 s (tables ~5 s, then 5–10 s a variant).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedItemTable, ItemDtype } from '../../src/core/bundle/index.ts';
import { Random } from '../../src/core/random.ts';
import {
  exclusionBitset,
  referenceScores,
  referenceTopK,
  type TopKResult,
} from '../../src/core/retrieval/index.ts';
import { topK } from '../../src/core/topk.ts';
import {
  DeviceLostError,
  WebGpuRetriever,
  WebGpuUnavailableError,
} from '../../src/engine/retrieval/webgpu/index.ts';
import {
  DIM,
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
import type { ProbeReply, WorkerReply, WorkerRequest } from './retrieval-webgpu.worker.ts';

/**
 * One device for most tests (the retriever caches its kernels per device, so the many small retrievers
 * below compile once; SwiftShader takes seconds to compile a pipeline on a busy machine). The 1M test, the
 * device-loss test and the worker tests let the retriever make its own device.
 */
let shared: GPUDevice;
beforeAll(async () => {
  const adapter = (await navigator.gpu.requestAdapter())!;
  shared = await adapter.requestDevice({
    requiredLimits: {
      maxComputeWorkgroupStorageSize: Math.min(32768, adapter.limits.maxComputeWorkgroupStorageSize),
    },
  });
});
afterAll(() => shared.destroy());

async function withRetriever<T>(
  table: DecodedItemTable,
  variant: Variant,
  body: (r: WebGpuRetriever) => Promise<T>,
  options: { maxK?: number; ownDevice?: boolean } = {},
): Promise<T> {
  const retriever = await WebGpuRetriever.create(table, {
    forceManualInt8: variant.forceManualInt8,
    maxK: options.maxK,
    device: options.ownDevice ? undefined : shared,
  });
  try {
    if (variant.dtype === 'i8')
      expect(retriever.variant).toBe(variant.forceManualInt8 || !hasPackedDot ? 'i8-manual' : 'i8-dot4');
    return await body(retriever);
  } finally {
    retriever.dispose();
  }
}

describe.each([1, 7, 1000, 65_537])('WebGpuRetriever on %i random rows', (count) => {
  let tables: Tables;
  const queries = [normalQuery(DIM, 101), normalQuery(DIM, 202)];
  const exclusions: Partial<Record<ItemDtype, Uint32Array[]>> = {};
  beforeAll(() => {
    tables = tablesOf(uniformValues(count, DIM, count), count, DIM);
    for (const dtype of ['f32', 'f16', 'i8'] as const)
      exclusions[dtype] = queries.map((q, i) => exclusionsFor(tables[dtype], q, 5, 7 + i));
  });

  it.each(VARIANTS)(
    '$name: top-k equals the reference for k = 1, 10, 200, with and without exclusions',
    async (variant) => {
      const table = tables[variant.dtype];
      await withRetriever(table, variant, async (retriever) => {
        for (const [qi, query] of queries.entries())
          for (const exclude of [undefined, exclusions[variant.dtype]![qi]])
            for (const k of KS) {
              const label = `${variant.name} n=${count} q${qi} k=${k}${exclude ? ' excl' : ''}`;
              const ref = referenceTopK(table, query, k, exclude);
              expect(ref.indices.length).toBe(Math.min(k, exclude ? ref.indices.length : count));
              expectSame(await retriever.topK(query, k, exclude), ref, label);
            }
      });
    },
  );
});

describe('WebGpuRetriever on 1,000,000 rows', () => {
  const count = 1_000_000;
  let tables: Tables;
  const query = normalQuery(DIM, 303);
  beforeAll(() => {
    const t0 = performance.now();
    tables = tablesOf(uniformValues(count, DIM, 99), count, DIM);
    console.info(`1M × ${DIM}: tables built in ${(performance.now() - t0).toFixed(0)} ms`);
  }, 300_000);
  afterAll(() => {
    tables = undefined as unknown as Tables;
  });

  it.each(VARIANTS.filter((v) => v.name === 'f32' || v.name === 'i8-dot4'))(
    '$name: top-k equals the reference',
    async (variant) => {
      const table = tables[variant.dtype];
      const t0 = performance.now();
      const scores = referenceScores(table, query);
      const exclude = exclusionBitset(count, [
        ...topK(scores, 3),
        ...Array.from({ length: count / 10 }, (_, i) => i * 10 + 3),
      ]);
      const excludedScores = referenceScores(table, query, exclude);
      const tRef = performance.now() - t0;
      const log: string[] = [];
      await withRetriever(
        table,
        variant,
        async (retriever) => {
          log.push(
            `create ${retriever.createMs.toFixed(0)} ms (table upload ${retriever.uploadMs.toFixed(0)} ms)`,
          );
          for (const k of KS) {
            const indices = topK(scores, k);
            const ref = { indices, scores: Float32Array.from(indices, (i) => scores[i]) };
            expectSame(await retriever.topK(query, k), ref, `${variant.name} 1M k=${k}`);
            log.push(
              `k=${k} ${retriever.lastTimings!.total.toFixed(0)} ms (${retriever.lastTimings!.passes} passes)`,
            );
          }
          const indices = topK(excludedScores, 200);
          const ref = { indices, scores: Float32Array.from(indices, (i) => excludedScores[i]) };
          expectSame(await retriever.topK(query, 200, exclude), ref, `${variant.name} 1M k=200 excl`);
          log.push(`k=200 excl ${retriever.lastTimings!.total.toFixed(0)} ms`);
        },
        { ownDevice: true },
      );
      console.info(`1M ${variant.name}: reference ${tRef.toFixed(0)} ms; gpu ${log.join(', ')}`);
    },
    300_000,
  );
});

describe('WebGpuRetriever with exact ties', () => {
  const count = 65_537;
  const pooled = tablesOf(pooledValues(count, DIM), count, DIM);
  const integer = (() => {
    // Values in {-1, 0, 1}: scores are integers in [-64, 64], exact in every dtype; for i8 the table is
    // built by hand with one scale for all rows, so its ties survive quantization.
    const rng = new Random(8);
    const values = Float32Array.from({ length: count * DIM }, () => rng.int(3) - 1);
    const tables = tablesOf(values, count, DIM);
    tables.i8 = {
      dtype: 'i8',
      count,
      dim: DIM,
      values: Int8Array.from(values, (v) => v * 127),
      scales: new Float32Array(count).fill(1 / 127),
      columnScales: new Float32Array(DIM).fill(1),
    };
    return tables;
  })();
  const queries = {
    random: normalQuery(DIM, 404),
    integer: Float32Array.from({ length: DIM }, (_, d) => ((d * 7) % 3) - 1),
    zero: new Float32Array(DIM),
  };

  it.each(VARIANTS)(
    '$name: ties go to the lower index, across workgroups and merge passes',
    async (variant) => {
      for (const [tableName, tables] of [
        ['pooled', pooled],
        ['integer', integer],
      ] as const) {
        const table = tables[variant.dtype];
        await withRetriever(table, variant, async (retriever) => {
          for (const [queryName, query] of Object.entries(queries))
            for (const k of [1, 10, 200, 256]) {
              const ref = referenceTopK(table, query, k);
              expectSame(
                await retriever.topK(query, k),
                ref,
                `${variant.name} ${tableName} ${queryName} k=${k}`,
              );
            }
          const zero = await retriever.topK(queries.zero, 256);
          expect(Array.from(zero.indices)).toEqual(Array.from({ length: 256 }, (_, i) => i));
          const exclude = exclusionBitset(count, [0, 2, 3, 100]);
          expectSame(
            await retriever.topK(queries.zero, 10, exclude),
            referenceTopK(table, queries.zero, 10, exclude),
            `${variant.name} ${tableName} zero query, excluded`,
          );
        });
      }
    },
  );
});

describe('WebGpuRetriever edge cases', () => {
  const small = tablesOf(uniformValues(7, DIM, 11), 7, DIM);
  const mid = tablesOf(uniformValues(5000, DIM, 12), 5000, DIM);
  const query = normalQuery(DIM, 505);

  it.each(VARIANTS)('$name: k > count, all excluded, all but 3 excluded, k = 0', async (variant) => {
    await withRetriever(small[variant.dtype], variant, async (retriever) => {
      for (const k of [7, 10, 200, 256]) {
        const got = await retriever.topK(query, k);
        expect(got.indices.length).toBe(7);
        expectSame(got, referenceTopK(small[variant.dtype], query, k), `${variant.name} k=${k} > count`);
      }
      const all = exclusionBitset(7, [0, 1, 2, 3, 4, 5, 6]);
      const none = await retriever.topK(query, 10, all);
      expect(none.indices.length).toBe(0);
      expect(none.scores.length).toBe(0);
      expect((await retriever.topK(query, 0)).indices.length).toBe(0);
    });
    const table = mid[variant.dtype];
    await withRetriever(table, variant, async (retriever) => {
      const keep = [17, 2500, 4999];
      const exclude = exclusionBitset(
        5000,
        Array.from({ length: 5000 }, (_, i) => i).filter((i) => !keep.includes(i)),
      );
      const got = await retriever.topK(query, 200, exclude);
      expect(got.indices.length).toBe(3);
      expectSame(got, referenceTopK(table, query, 200, exclude), `${variant.name} 3 left`);
      // A bitset shorter than the table leaves the missing rows included.
      const short = exclusionBitset(64, [5, 6]);
      expectSame(
        await retriever.topK(query, 50, short),
        referenceTopK(table, query, 50, short),
        `${variant.name} short bitset`,
      );
      expectSame(
        await retriever.topK(query, 256),
        referenceTopK(table, query, 256),
        `${variant.name} k = maxK`,
      );
      await expect(retriever.topK(query, 257)).rejects.toThrow(RangeError);
      await expect(retriever.topK(new Float32Array(DIM - 1), 5)).rejects.toThrow(RangeError);
      // Still usable after rejected calls; concurrent calls are serialized and each gets its own answer.
      const [a, b] = await Promise.all([retriever.topK(query, 3), retriever.topK(normalQuery(DIM, 1), 4)]);
      expectSame(a, referenceTopK(table, query, 3), 'concurrent a');
      expectSame(b, referenceTopK(table, normalQuery(DIM, 1), 4), 'concurrent b');
      const t = retriever.lastTimings!;
      for (const v of [t.upload, t.scan, t.readback, t.total]) expect(v).toBeGreaterThanOrEqual(0);
    });
  });

  it('maxK = 1024 (the retriever asks for more than the default 16 KiB of workgroup memory), k = 1024 and 700', async () => {
    const count = 65_537;
    const tables = tablesOf(uniformValues(count, DIM, 13), count, DIM);
    for (const variant of [VARIANTS[0], VARIANTS[2]]) {
      await withRetriever(
        tables[variant.dtype],
        variant,
        async (retriever) => {
          expect(retriever.maxK).toBe(1024);
          for (const k of [1024, 700])
            expectSame(
              await retriever.topK(query, k),
              referenceTopK(tables[variant.dtype], query, k),
              `${variant.name} maxK 1024, k=${k}`,
            );
        },
        { maxK: 1024, ownDevice: true },
      );
    }
  });

  it('odd dimensions: scalar loads, and vector loads over padded f16 / i8 rows (dim 15)', async () => {
    for (const dim of [1, 15, 67]) {
      const tables = tablesOf(uniformValues(3001, dim, dim), 3001, dim);
      const q = normalQuery(dim, dim);
      for (const variant of VARIANTS)
        await withRetriever(tables[variant.dtype], variant, async (retriever) => {
          for (const k of [1, 200])
            expectSame(
              await retriever.topK(q, k),
              referenceTopK(tables[variant.dtype], q, k),
              `${variant.name} dim=${dim} k=${k}`,
            );
        });
    }
  });

  it('throws WebGpuUnavailableError when a needed limit is missing', async () => {
    // 16 KiB-per-entry workgroups: no adapter offers 64 KiB of workgroup memory under WebGPU's limits.
    await expect(WebGpuRetriever.create(small.f32, { maxK: 8000 })).rejects.toBeInstanceOf(
      WebGpuUnavailableError,
    );
    // A device made with default limits (128 MiB storage bindings) cannot take a 256 MiB table.
    const adapter = (await navigator.gpu.requestAdapter())!;
    const device = await adapter.requestDevice();
    const big: DecodedItemTable = {
      dtype: 'f32',
      count: 600_000,
      dim: 64,
      values: new Float32Array(600_000 * 64),
    };
    await expect(WebGpuRetriever.create(big, { device })).rejects.toBeInstanceOf(WebGpuUnavailableError);
    device.destroy();
  });

  it('device loss: lost resolves, topK rejects with DeviceLostError (also for a call in flight)', async () => {
    const adapter = (await navigator.gpu.requestAdapter())!;
    const device = await adapter.requestDevice();
    const retriever = await WebGpuRetriever.create(mid.f16, { device });
    expectSame(await retriever.topK(query, 10), referenceTopK(mid.f16, query, 10), 'before loss');
    const inFlight = retriever.topK(query, 10);
    device.destroy();
    await expect(inFlight).rejects.toBeInstanceOf(DeviceLostError);
    const info = await retriever.lost;
    expect(info.reason).toBe('destroyed');
    const error = await retriever.topK(query, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceLostError);
    expect((error as DeviceLostError).info?.reason).toBe('destroyed');
    retriever.dispose(); // disposing after loss must not throw

    // A retriever that created its own device destroys it on dispose; later calls reject.
    const own = await WebGpuRetriever.create(small.f32);
    own.dispose();
    await expect(own.topK(query, 1)).rejects.toThrow(/dispose/);
    expect((await own.lost).reason).toBe('destroyed');
  });
});

function inWorker(request: WorkerRequest, transfer: Transferable[] = []): Promise<WorkerReply> {
  const worker = new Worker(new URL('./retrieval-webgpu.worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      worker.terminate();
      resolve(event.data);
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`worker failed: ${event.message}`));
    };
    worker.postMessage(request, transfer);
  });
}

describe('WebGpuRetriever in a dedicated worker', () => {
  it('platform probe: FMA contraction and unpack2x16float exactness', async () => {
    const reply = await inWorker({ kind: 'probe' });
    if (!reply.ok) expect.fail(reply.error);
    const probe = (reply as { probe: ProbeReply }).probe;
    console.info(`probe: ${JSON.stringify(probe)}`);
    // The laundered form never fuses, on any driver; the kernels rely on that one.
    expect(probe.fusedLaundered).toBe(0);
    expect(probe.dotMismatchLaundered).toBe(0);
    // Every finite half widens exactly (subnormals included): f16 rows need no manual decoding.
    expect(probe.halfMismatches).toBe(0);
  });

  it('top-k in a worker equals the reference (65,537 rows, f16 and both i8 paths)', async () => {
    const count = 65_537;
    const tables = tablesOf(uniformValues(count, DIM, 77), count, DIM);
    const query = normalQuery(DIM, 606);
    for (const variant of VARIANTS.slice(1)) {
      const table = tables[variant.dtype];
      const exclude = exclusionsFor(table, query, 5, 3);
      const calls = [
        { query, k: 200 },
        { query, k: 10, exclude },
      ];
      const reply = await inWorker({ kind: 'topk', table, calls, forceManualInt8: variant.forceManualInt8 });
      if (!reply.ok) expect.fail(reply.error);
      const { results, variant: ran } = reply as { results: TopKResult[]; variant: string };
      expect(ran).toBe(
        variant.dtype === 'i8' && (variant.forceManualInt8 || !hasPackedDot) ? 'i8-manual' : variant.name,
      );
      for (const [i, call] of calls.entries())
        expectSame(
          results[i],
          referenceTopK(table, call.query, call.k, call.exclude),
          `worker ${variant.name} #${i}`,
        );
    }
  });

  it('device loss inside the worker rejects with DeviceLostError', async () => {
    const reply = await inWorker({ kind: 'lose', table: tablesOf(uniformValues(100, DIM, 1), 100, DIM).i8 });
    if (!reply.ok) expect.fail(reply.error);
    expect(reply).toMatchObject({ lostReason: 'destroyed', errorName: 'DeviceLostError' });
  });
});
