import { slabCopyI32 } from '../typed-slab.ts';

/**
 * Seats in proportion to weights by the largest-remainder (Hamilton) method: each gets the floor of its
 * exact share of `total`, and the seats left go to the largest remainders (ties: the lower index).
 * All-zero weights share equally.
 */
export function largestRemainder(weights: readonly number[], total: number): number[] {
  const n = weights.length;
  if (n === 0) return [];
  for (const w of weights)
    if (!(w >= 0) || !Number.isFinite(w))
      throw new RangeError(`quota weights must be finite and ≥ 0, got ${w}`);
  const sum = weights.reduce((a, b) => a + b, 0);
  const share = sum > 0 ? weights.map((w) => (w / sum) * total) : weights.map(() => total / n);
  const seats = share.map(Math.floor);
  let left = total - seats.reduce((a, b) => a + b, 0);
  const order = share
    .map((s, i) => ({ i, remainder: s - Math.floor(s) }))
    .sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  for (let r = 0; left > 0; r = (r + 1) % n, left--) seats[order[r].i]++;
  return seats;
}

export interface QuotaMerge {
  /** The merged items: list 0's quota in its order, then list 1's, …, then any seats filled afterwards. */
  items: Int32Array;
  /** For each merged item, the list it was taken from. */
  source: Int32Array;
}

/**
 * Merges ranked lists (best first) into at most `total` distinct items, list q contributing its quota by
 * `weights` (largest remainder). Lists are served in order, each taking its best items not yet taken; an
 * item two lists share goes to the earlier one. Seats a list cannot fill (too short once duplicates are
 * skipped) go to the lists in order, from where each stopped.
 */
export function mergeByQuota(
  lists: readonly ArrayLike<number>[],
  weights: readonly number[],
  total: number,
): QuotaMerge {
  if (lists.length !== weights.length)
    throw new RangeError(`${lists.length} lists but ${weights.length} weights`);
  const quotas = largestRemainder(weights, total);
  const taken = new Set<number>();
  const items: number[] = [];
  const source: number[] = [];
  const cursor = lists.map(() => 0);
  const take = (q: number, until: number) => {
    const list = lists[q];
    while (items.length < until && cursor[q] < list.length) {
      const item = list[cursor[q]++];
      if (taken.has(item)) continue;
      taken.add(item);
      items.push(item);
      source.push(q);
    }
  };
  for (let q = 0; q < lists.length; q++) take(q, items.length + quotas[q]);
  for (let q = 0; q < lists.length && items.length < total; q++) take(q, total);
  return { items: slabCopyI32(items), source: slabCopyI32(source) };
}
