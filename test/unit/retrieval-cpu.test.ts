import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { DecodedItemTable } from '../../src/core/bundle/index.ts';
import { Random } from '../../src/core/random.ts';
import { type ExclusionBitset, referenceTopK } from '../../src/core/retrieval/index.ts';
import { buildKernels, KERNEL_VARIANTS } from '../../src/engine/retrieval/cpu/gen-kernel.ts';
import { CpuRetriever, scanTopK, sortEntries } from '../../src/engine/retrieval/cpu/index.ts';
import {
  beginQuery,
  CONTROL,
  F32_BLOCK,
  type KernelExports,
  loadKernel,
  PAGE,
  planLayout,
  scanRange,
  writeQuery,
  writeTable,
} from '../../src/engine/retrieval/cpu/kernel.ts';
import { firstDifference, makeExclusions, makeQueries, makeTable } from '../shared/retrieval-tables.ts';

const DTYPES = ['f32', 'f16', 'i8'] as const;
const KS = [1, 10, 200];

const retrievers: CpuRetriever[] = [];
afterAll(() => {
  for (const r of retrievers) r.dispose();
});

async function wasmRetriever(table: DecodedItemTable): Promise<CpuRetriever> {
  const r = await CpuRetriever.create(table, { kernel: 'wasm' });
  retrievers.push(r);
  return r;
}

/** Every k in `ks` for every query, the TS scan and the wasm kernel, exact against the reference. */
async function expectExact(
  table: DecodedItemTable,
  queries: Float32Array[],
  ks: number[],
  exclude?: ExclusionBitset,
): Promise<void> {
  const wasm = await wasmRetriever(table);
  expect(wasm.backend).toBe('wasm');
  for (const [qi, query] of queries.entries())
    for (const k of ks) {
      const expected = referenceTopK(table, query, k, exclude);
      const where = `${table.dtype} ${table.count}×${table.dim} query ${qi} k ${k}`;
      expect(firstDifference(scanTopK(table, query, k, exclude), expected), `js ${where}`).toBeUndefined();
      expect(firstDifference(await wasm.topK(query, k, exclude), expected), `wasm ${where}`).toBeUndefined();
    }
}

describe('CPU retrieval: the TS scan and the wasm kernel equal referenceTopK', () => {
  for (const dtype of DTYPES) {
    for (const count of [1, 7, 1000])
      it(`${dtype}, ${count} rows × 64, k ${KS.join('/')} and k > count`, async () => {
        const table = makeTable(dtype, count, 64, { seed: count });
        await expectExact(table, makeQueries(3, 64), [...KS, count + 5]);
      });

    it(`${dtype}, 100,003 rows × 64 with ties (duplicate rows), k ${KS.join('/')}`, async () => {
      const table = makeTable(dtype, 100_003, 64, { duplicateEvery: 3, seed: 11 });
      await expectExact(table, makeQueries(2, 64), KS);
    });

    it(`${dtype}, dimensions that are not a multiple of 16 (13, 37)`, async () => {
      for (const dim of [13, 37])
        await expectExact(makeTable(dtype, 1001, dim), makeQueries(2, dim), [1, 10, 200]);
    });

    it(`${dtype}, exclusions (a bitset, also one shorter than the table)`, async () => {
      const table = makeTable(dtype, 5003, 64, { duplicateEvery: 5 });
      await expectExact(table, makeQueries(2, 64), KS, makeExclusions(5003, 0.3));
      await expectExact(table, makeQueries(1, 64), KS, makeExclusions(2000, 0.5));
      const all = makeExclusions(5003, 1);
      expect((await (await wasmRetriever(table)).topK(makeQueries(1, 64)[0], 10, all)).indices.length).toBe(
        0,
      );
    });
  }

  it('all-equal scores come back in index order', async () => {
    for (const dtype of DTYPES) {
      const table = makeTable(dtype, 3001, 64, { duplicateEvery: 1 }); // every row a copy of row 0
      await expectExact(table, makeQueries(1, 64), [1, 10, 200, 5000]);
    }
    // A zero query: every i8 score is 0.
    const i8 = makeTable('i8', 2000, 64);
    await expectExact(i8, [new Float32Array(64)], [10, 200]);
  });

  it('never returns NaN or -Infinity scores (f32 overflow)', async () => {
    const table = makeTable('f32', 203, 8);
    const values = table.values as Float32Array;
    values.fill(3e38, 0, 8); // row 0: +Infinity for a positive query
    values.fill(-3e38, 8, 16); // row 1: -Infinity
    values.fill(3e38, 16, 20); // row 2: +∞ + -∞ = NaN
    values.fill(-3e38, 20, 24);
    await expectExact(table, [new Float32Array(8).fill(2)], [1, 10, 203]);
  });

  it('k of 0 or less returns nothing; a query of the wrong length is refused', async () => {
    const table = makeTable('i8', 100, 16);
    const wasm = await wasmRetriever(table);
    expect((await wasm.topK(new Float32Array(16), 0)).indices.length).toBe(0);
    expect(scanTopK(table, new Float32Array(16), -1).indices.length).toBe(0);
    await expect(wasm.topK(new Float32Array(15), 10)).rejects.toThrow(RangeError);
    expect(() => scanTopK(table, new Float32Array(15), 10)).toThrow(RangeError);
  });

  it("kernel: 'js' gives the js backend; wasm runs one thread in Node (no Worker there)", async () => {
    const table = makeTable('f32', 100, 8);
    const js = await CpuRetriever.create(table, { kernel: 'js' });
    expect([js.backend, js.threads]).toEqual(['js', 1]);
    const wasm = await wasmRetriever(table);
    expect([wasm.backend, wasm.threads]).toEqual(['wasm', 1]);
  });
});

describe("sortEntries (the merge of the threads' heaps)", () => {
  /** Best first by score, equal scores by lower index; the scores kept as given (-0 stays -0). */
  function expected(scores: number[], indices: number[], k: number) {
    const order = scores.map((_, i) => i);
    order.sort((a, b) => (scores[a] === scores[b] ? indices[a] - indices[b] : scores[b] - scores[a]));
    const top = order.slice(0, Math.max(0, k));
    return {
      indices: Int32Array.from(top, (i) => indices[i]),
      scores: Float32Array.from(top, (i) => scores[i]),
    };
  }

  it('equals a comparator sort: ties, ±0, ±Infinity, negative and subnormal scores, any k', () => {
    const random = new Random(5);
    const pool = [0, -0, 1, -1, 0.5, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38, 0.25];
    for (let trial = 0; trial < 200; trial++) {
      const n = random.int(400) + 1;
      const rows = new Set<number>();
      while (rows.size < n) rows.add(random.int(trial % 2 ? 2 ** 21 : 5000));
      const indices = [...rows];
      const scores = indices.map(() =>
        Math.fround(random.next() < 0.4 ? pool[random.int(pool.length)] : random.normal()),
      );
      for (const k of [0, 1, 10, n, n + 3]) {
        const got = sortEntries(scores, indices, k);
        expect(firstDifference(got, expected(scores, indices, k)), `trial ${trial} k ${k}`).toBeUndefined();
      }
    }
  });

  it('indices past 2^21 take the comparator sort, with the same answer', () => {
    const indices = [2 ** 21 + 5, 3, 2 ** 30, 7, 2 ** 21];
    const scores = [1, 1, 2, -0, 1].map(Math.fround);
    expect(firstDifference(sortEntries(scores, indices, 5), expected(scores, indices, 5))).toBeUndefined();
  });
});

describe('the f32 kernel: sixteen-row blocks, dimension-major', () => {
  it('writeTable puts element (16b + l, d) at float 16·b·dim + 16·d + l, the padding zero', () => {
    const dim = 5;
    const table = makeTable('f32', 37, dim, { seed: 3 });
    const layout = planLayout(table, 'simd', 1);
    const pages = Math.ceil(layout.bytes / PAGE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    writeTable(memory.buffer, layout, table);
    const rows = new Float32Array(memory.buffer, layout.rows, 48 * dim); // 37 rows padded to 3 blocks
    const values = table.values as Float32Array;
    for (let r = 0; r < 48; r++)
      for (let d = 0; d < dim; d++)
        expect(rows[(r >> 4) * F32_BLOCK * dim + F32_BLOCK * d + (r & 15)], `row ${r} dim ${d}`).toBe(
          r < 37 ? values[r * dim + d] : 0,
        );
  });

  it('chunks start on a block for every dimension (threads scan whole blocks)', () => {
    for (const dim of [1, 8, 13, 37, 64, 100, 256, 1024]) {
      const layout = planLayout(makeTable('f32', 16, dim), 'simd', 2);
      expect(layout.chunkRows % F32_BLOCK, `dim ${dim}`).toBe(0);
    }
  });

  it('exact at every count around a block edge, and over ranges that end inside a block', async () => {
    for (const count of [15, 16, 17, 31, 32, 33, 47, 63, 65]) {
      const table = makeTable('f32', count, 24, { duplicateEvery: 4, seed: count });
      await expectExact(table, makeQueries(2, 24), [1, 5, count]);
    }
    // One instance scanning [0, 16) then [16, count): two calls on one heap, as a thread does its chunks.
    const table = makeTable('f32', 45, 24, { seed: 9 });
    const kernelModule = (await loadKernel(false, 'simd'))!;
    const layout = planLayout(table, kernelModule.flavor, 1);
    const pages = Math.ceil(layout.bytes / PAGE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    writeTable(memory.buffer, layout, table);
    const kernel = (await WebAssembly.instantiate(kernelModule.module, { env: { memory } }))
      .exports as unknown as KernelExports;
    const query = makeQueries(1, 24)[0];
    writeQuery(memory.buffer, layout, query, undefined, undefined);
    beginQuery(kernel, layout, 0, 7, false);
    scanRange(kernel, layout, 0, 16, 1);
    const n = scanRange(kernel, layout, 16, 45, 1);
    const heapF = new Float32Array(memory.buffer, layout.heaps[0], 2 * n);
    const heapI = new Int32Array(memory.buffer, layout.heaps[0], 2 * n);
    const merged = sortEntries(
      Array.from({ length: n }, (_, i) => heapF[2 * i]),
      Array.from({ length: n }, (_, i) => heapI[2 * i + 1]),
      7,
    );
    expect(firstDifference(merged, referenceTopK(table, query, 7))).toBeUndefined();
  });
});

describe('the kernel shared by several threads (simulated: instances on one memory, in turn)', () => {
  // What the helper workers do in the browser: each thread keeps its own heap over the chunks it takes
  // from the shared counter (in increasing order), and the caller merges the heaps with ties by index.
  for (const dtype of ['i8', 'f32'] as const)
    it(`${dtype}: chunks dealt unevenly to 3 threads, then merged, equal the reference`, async () => {
      const table = makeTable(dtype, 100_003, 64, { duplicateEvery: 2, seed: 4 });
      const kernelModule = (await loadKernel(false, 'simd'))!;
      const layout = planLayout(table, kernelModule.flavor, 3);
      const pages = Math.ceil(layout.bytes / PAGE);
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      writeTable(memory.buffer, layout, table);
      const threads = await Promise.all(
        [0, 1, 2].map(
          async () =>
            (await WebAssembly.instantiate(kernelModule.module, { env: { memory } }))
              .exports as unknown as KernelExports,
        ),
      );
      const ctl = new Int32Array(memory.buffer, layout.control, 16);
      expect(layout.chunks).toBeGreaterThan(10);
      for (const [qi, query] of makeQueries(2, 64).entries())
        for (const k of [1, 10, 200]) {
          const exclude = qi === 1 ? makeExclusions(table.count, 0.2) : undefined;
          const qscale = writeQuery(memory.buffer, layout, query, table.columnScales, exclude);
          threads.forEach((kernel, t) => {
            beginQuery(kernel, layout, t, k, exclude !== undefined);
          });
          const sizes = [0, 0, 0];
          ctl[CONTROL.NEXT] = 0;
          for (;;) {
            const c = Atomics.add(ctl, CONTROL.NEXT, 1);
            if (c >= layout.chunks) break;
            const t = [0, 0, 1, 2, 1][c % 5]; // uneven, and each thread's chunks in increasing order
            const end = Math.min(table.count, (c + 1) * layout.chunkRows);
            sizes[t] = scanRange(threads[t], layout, c * layout.chunkRows, end, qscale);
          }
          const scores: number[] = [];
          const indices: number[] = [];
          sizes.forEach((n, t) => {
            const f = new Float32Array(memory.buffer, layout.heaps[t], 2 * n);
            const i32 = new Int32Array(memory.buffer, layout.heaps[t], 2 * n);
            for (let i = 0; i < n; i++) {
              scores.push(f[2 * i]);
              indices.push(i32[2 * i + 1]);
            }
          });
          const merged = sortEntries(scores, indices, k);
          expect(
            firstDifference(merged, referenceTopK(table, query, k, exclude)),
            `query ${qi} k ${k}`,
          ).toBeUndefined();
        }
    });
});

describe('the checked-in kernel binaries', () => {
  it('equal what gen-kernel.ts assembles from kernel.wat', async () => {
    const built = await buildKernels();
    for (const { file } of KERNEL_VARIANTS) {
      const checkedIn = await readFile(new URL(`../../src/engine/retrieval/cpu/${file}`, import.meta.url));
      expect(Buffer.from(built.get(file)!).equals(checkedIn), `${file} is stale: run gen-kernel.ts`).toBe(
        true,
      );
    }
  });

  // Node 20's V8 (11.3) has relaxed SIMD behind a flag only, and computes the relaxed dot wrong: the
  // loader's self-test must turn it down there; the browser tests check the relaxed kernel in Chromium.
  it('the relaxed-SIMD kernel is exact, or refused by the self-test (child process with the flag)', () => {
    const script = fileURLToPath(new URL('../shared/retrieval-relaxed-check.ts', import.meta.url));
    const out = execFileSync(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--import', 'tsx', script],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(['relaxed: ok', 'relaxed: rejected']).toContain(out.trim().split('\n').at(-1));
  });
});
