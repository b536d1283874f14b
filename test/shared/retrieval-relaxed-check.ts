// Run by test/unit/retrieval-cpu.test.ts as
//   node --experimental-wasm-relaxed-simd --import tsx test/shared/retrieval-relaxed-check.ts
// (Node 20's V8 validates relaxed SIMD only behind that flag.) Prints "relaxed: ok" when the relaxed kernel
// loads and is exact, "relaxed: rejected" when the loader's self-test turned it down (V8 11.3 computes
// the relaxed dot wrong), or exits 1.
import { referenceTopK } from '../../src/core/retrieval/index.ts';
import { CpuRetriever } from '../../src/engine/retrieval/cpu/index.ts';
import { firstDifference, makeExclusions, makeQueries, makeTable } from './retrieval-tables.ts';

const cases = [
  { count: 7, dim: 64, ks: [1, 10] },
  { count: 1000, dim: 13, ks: [1, 10, 200] },
  { count: 100_003, dim: 64, ks: [1, 10, 200] },
];
for (const { count, dim, ks } of cases) {
  const table = makeTable('i8', count, dim, { duplicateEvery: 3, seed: count });
  const retriever = await CpuRetriever.create(table, { flavor: 'relaxed' });
  if (retriever.flavor !== 'relaxed') {
    console.log('relaxed: rejected');
    process.exit(0);
  }
  for (const exclude of [undefined, makeExclusions(count, 0.2)])
    for (const query of [...makeQueries(2, dim), new Float32Array(dim)])
      for (const k of ks) {
        const diff = firstDifference(
          await retriever.topK(query, k, exclude),
          referenceTopK(table, query, k, exclude),
        );
        if (diff) {
          console.error(`relaxed ${count}×${dim} k ${k}: ${diff}`);
          process.exit(1);
        }
      }
  retriever.dispose();
}
console.log('relaxed: ok');
