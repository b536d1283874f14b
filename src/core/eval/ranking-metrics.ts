import { RANKER_HEADS } from '../bundle/manifest.ts';
/**
 * Metrics of a ranker over impressions: ROC AUC per head (ties count one half, as the Mann–Whitney U
 * statistic does), and NDCG of each request's candidates ordered by predicted utility against their
 * realised utility.
 */

/** ROC AUC of `scores` for binary `labels` (1 positive); NaN when either class is empty. */
export function binaryAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    // Tied scores share the mean of their 1-based ranks.
    const meanRank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]]) {
        positives++;
        rankSum += meanRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * NDCG@k of one request: candidates ordered by `predicted` (ties by index), gains = max(0, realised).
 * Returns NaN when no candidate has a positive gain (the request does not count).
 */
export function gradedNdcg(predicted: ArrayLike<number>, realised: ArrayLike<number>, k: number): number {
  const n = predicted.length;
  const gain = (i: number) => Math.max(0, realised[i]);
  const byPrediction = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => predicted[b] - predicted[a] || a - b,
  );
  const ideal = Array.from({ length: n }, (_, i) => gain(i)).sort((a, b) => b - a);
  let dcg = 0;
  let idcg = 0;
  for (let r = 0; r < Math.min(k, n); r++) {
    const discount = 1 / Math.log2(r + 2);
    dcg += (2 ** gain(byPrediction[r]) - 1) * discount;
    idcg += (2 ** ideal[r] - 1) * discount;
  }
  return idcg > 0 ? dcg / idcg : Number.NaN;
}

/** AUC of each ranker head (`AUC.click`, …) from probabilities and 0/1 labels, both [size × heads]. */
export function headAucs(probs: Float32Array, labels: Uint8Array): Record<string, number> {
  const heads = RANKER_HEADS.length;
  const size = labels.length / heads;
  const out: Record<string, number> = {};
  RANKER_HEADS.forEach((head, h) => {
    const scores = new Float32Array(size);
    const y = new Uint8Array(size);
    for (let n = 0; n < size; n++) {
      scores[n] = probs[n * heads + h];
      y[n] = labels[n * heads + h];
    }
    out[`AUC.${head}`] = binaryAuc(scores, y);
  });
  return out;
}
