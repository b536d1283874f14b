/**
 * Exact top-k: the k highest scores, best first, ties broken by the lower index — the reference every
 * GPU and WASM kernel must reproduce bit for bit. Entries scored -Infinity or NaN are never returned.
 * O(n log k) with a bounded min-heap.
 */
export function topK(scores: ArrayLike<number>, k: number): Int32Array {
  const heap = new Int32Array(Math.max(0, k));
  let size = 0;
  // "a ranks below b": lower score, or equal score and higher index.
  const below = (a: number, b: number): boolean =>
    scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const siftDown = (start: number): void => {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && below(heap[right], heap[left]) ? right : left;
      if (!below(heap[child], heap[i])) return;
      const tmp = heap[i];
      heap[i] = heap[child];
      heap[child] = tmp;
      i = child;
    }
  };
  if (k <= 0) return new Int32Array(0);
  for (let index = 0; index < scores.length; index++) {
    const score = scores[index];
    if (!(score > Number.NEGATIVE_INFINITY)) continue;
    if (size < k) {
      let i = size++;
      heap[i] = index;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!below(heap[i], heap[parent])) break;
        const tmp = heap[i];
        heap[i] = heap[parent];
        heap[parent] = tmp;
        i = parent;
      }
    } else if (below(heap[0], index)) {
      heap[0] = index;
      siftDown(0);
    }
  }
  const result = Array.from(heap.subarray(0, size));
  result.sort((a, b) => scores[b] - scores[a] || a - b);
  return Int32Array.from(result);
}
