import { makeQueries } from '../../shared/retrieval-tables.ts';

/** Seeded unit-length queries, the same in every worker and run. */
export function benchQueries(count: number, dim: number): Float32Array[] {
  return makeQueries(count, dim, 2024).map((q) => {
    let norm = 0;
    for (const x of q) norm += x * x;
    const inv = 1 / Math.sqrt(norm);
    return q.map((x) => x * inv);
  });
}
