/**
 * `npx tsx test/bench/f32-scan.ts [--count 1000000] [--runs 40] [--rounds 3]` — the f32 scan on one thread
 * in Node, against onnxruntime-web's wasm build on one thread over the same table: edgerec's
 * `CpuRetriever` (wasm kernel, one thread) and ORT's `MatMul` over the pre-transposed table and
 * `Gemm(transB)`, each followed by `TopK` (k = 200, the browser benchmark's graphs and seeded unit rows).
 * The three take turns (`--rounds`), so a change in the machine's load reaches all of them; every answer is
 * checked against `referenceTopK`. Prints p50 / min per implementation and round, then the load average.
 * A one-thread, same-process view of what `npm run bench:browser -- --stages retrieve` measures with threads.
 */
import { loadavg } from 'node:os';
import * as ort from 'onnxruntime-web/wasm';
import { referenceTopK } from '../../src/core/retrieval/index.ts';
import { CpuRetriever } from '../../src/engine/retrieval/cpu/index.ts';
import { benchArgs } from './args.ts';
import { gemmTopK, matmulTopK, unitRows } from './browser/artifacts.ts';
import { benchQueries } from './browser/queries.ts';

const args = benchArgs({
  script: 'f32-scan.ts',
  flags: {
    count: { type: 'string', value: 'N' },
    runs: { type: 'string', value: 'N' },
    rounds: { type: 'string', value: 'N' },
  },
});
const count = args.integer('count', 1_000_000, 1);
const runs = args.integer('runs', 40, 1);
const rounds = args.integer('rounds', 3, 1);
const dim = 64;
const k = 200;

const values = unitRows(count, dim);
const table = { dtype: 'f32' as const, count, dim, values };
const queries = benchQueries(8, dim);
const expected = queries.map((q) => Array.from(referenceTopK(table, q, k).indices).join());

ort.env.wasm.numThreads = 1;
const edgerec = await CpuRetriever.create(table, { kernel: 'wasm', threads: 1 });
const sessions = {
  'ort MatMul': await ort.InferenceSession.create(matmulTopK(values, count, dim, k)),
  'ort Gemm': await ort.InferenceSession.create(gemmTopK(values, count, dim, k)),
};

type Impl = (q: Float32Array) => Promise<number[]>;
const impls: Record<string, Impl> = {
  'edgerec-cpu': async (q) => Array.from((await edgerec.topK(q, k)).indices),
  ...Object.fromEntries(
    Object.entries(sessions).map(([name, session]) => [
      name,
      async (q: Float32Array) => {
        const out = await session.run({ query: new ort.Tensor('float32', q, [1, dim]) });
        return Array.from(out.indices.data as BigInt64Array, Number);
      },
    ]),
  ),
};

for (const [name, run] of Object.entries(impls))
  for (const [i, q] of queries.entries())
    if ((await run(q)).join() !== expected[i])
      throw new Error(`${name}: query ${i} differs from referenceTopK`);

console.log(`f32 top-${k} over ${count.toLocaleString('en')} × ${dim}, one thread, ${runs} calls a turn`);
console.log('| round | impl | p50 ms | min ms |\n|---|---|---|---|');
for (let round = 1; round <= rounds; round++)
  for (const [name, run] of Object.entries(impls)) {
    for (let i = 0; i < 5; i++) await run(queries[i % queries.length]);
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await run(queries[i % queries.length]);
      ms.push(performance.now() - started);
    }
    ms.sort((a, b) => a - b);
    console.log(`| ${round} | ${name} | ${ms[Math.floor(runs / 2)].toFixed(2)} | ${ms[0].toFixed(2)} |`);
  }
console.log(
  `load average at end: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
edgerec.dispose();
