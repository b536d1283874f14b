/**
 * Ranking metrics. Two families, one per protocol shape:
 * - sampled: one target ranked among sampled negatives; ties are averaged (the expected value when ties
 *   are broken uniformly at random), which is what a popularity ranker with many equal counts needs;
 * - ranked lists: a full ranking (ties already broken by index) scored against a set of positives.
 */

export interface SampledRank {
  /** Negatives scored strictly above the target. */
  above: number;
  /** Negatives scored exactly as the target. */
  tied: number;
  /** Number of negatives. */
  negatives: number;
}

export function sampledRank(targetScore: number, negativeScores: ArrayLike<number>): SampledRank {
  let above = 0;
  let tied = 0;
  for (let i = 0; i < negativeScores.length; i++) {
    const s = negativeScores[i];
    if (s > targetScore) above++;
    else if (s === targetScore) tied++;
  }
  return { above, tied, negatives: negativeScores.length };
}

/** Averages `gain(rank)` over the ranks (0-based) the target could take under random tie-breaking. */
function expectedOverTies(rank: SampledRank, gain: (r: number) => number): number {
  let total = 0;
  for (let r = rank.above; r <= rank.above + rank.tied; r++) total += gain(r);
  return total / (rank.tied + 1);
}

export function sampledHitRate(rank: SampledRank, k: number): number {
  return expectedOverTies(rank, (r) => (r < k ? 1 : 0));
}

export function sampledNdcg(rank: SampledRank, k: number): number {
  return expectedOverTies(rank, (r) => (r < k ? 1 / Math.log2(r + 2) : 0));
}

export function sampledReciprocalRank(rank: SampledRank): number {
  return expectedOverTies(rank, (r) => 1 / (r + 1));
}

/** Share of negatives ranked below the target, ties counting one half. */
export function sampledAuc(rank: SampledRank): number {
  if (rank.negatives === 0) return 1;
  return (rank.negatives - rank.above - rank.tied + 0.5 * rank.tied) / rank.negatives;
}

/** `ranked`: item ids best first (at least k long where possible); `positives`: the relevant items. */
export function recallAt(ranked: ArrayLike<number>, positives: ReadonlySet<number>, k: number): number {
  if (positives.size === 0) return 0;
  return hitsAt(ranked, positives, k) / positives.size;
}

export function hitRateAt(ranked: ArrayLike<number>, positives: ReadonlySet<number>, k: number): number {
  return hitsAt(ranked, positives, k) > 0 ? 1 : 0;
}

function hitsAt(ranked: ArrayLike<number>, positives: ReadonlySet<number>, k: number): number {
  let hits = 0;
  const n = Math.min(k, ranked.length);
  for (let i = 0; i < n; i++) if (positives.has(ranked[i])) hits++;
  return hits;
}

/** Binary-relevance NDCG@k; the ideal ranking puts min(|positives|, k) positives first (LightGCN's definition). */
export function ndcgAt(ranked: ArrayLike<number>, positives: ReadonlySet<number>, k: number): number {
  let dcg = 0;
  const n = Math.min(k, ranked.length);
  for (let i = 0; i < n; i++) if (positives.has(ranked[i])) dcg += 1 / Math.log2(i + 2);
  let ideal = 0;
  const m = Math.min(k, positives.size);
  for (let i = 0; i < m; i++) ideal += 1 / Math.log2(i + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

/**
 * Full-ranking statistics of one user: the reciprocal rank of the best-placed positive and the AUC of
 * positives against all other candidates, both from raw scores (candidates scored -Infinity are excluded;
 * ties in rank are broken by index as in topK, ties in AUC count one half).
 */
export function fullRankStatistics(
  scores: ArrayLike<number>,
  positives: ReadonlySet<number>,
): { reciprocalRank: number; auc: number } {
  let best = -1;
  for (const p of positives) {
    if (!(scores[p] > Number.NEGATIVE_INFINITY)) continue;
    if (best < 0 || scores[p] > scores[best] || (scores[p] === scores[best] && p < best)) best = p;
  }
  if (best < 0) return { reciprocalRank: 0, auc: 0 };
  let ahead = 0;
  let negatives = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (!(s > Number.NEGATIVE_INFINITY)) continue;
    if (s > scores[best] || (s === scores[best] && i < best)) ahead++;
    if (!positives.has(i)) negatives++;
  }
  const { wrongPairs, scoredPositives } =
    positives.size > SORTED_AUC_FROM
      ? wrongPairsSorted(scores, positives)
      : wrongPairsScan(scores, positives);
  const pairs = scoredPositives * negatives;
  return { reciprocalRank: 1 / (ahead + 1), auc: pairs === 0 ? 1 : 1 - wrongPairs / pairs };
}

/** Positives per user from which sorting the negatives once beats a scan over all candidates per positive. */
const SORTED_AUC_FROM = 8;

/** Mis-ordered (positive, negative) pairs, ties counting one half: one scan over the candidates per positive. */
export function wrongPairsScan(
  scores: ArrayLike<number>,
  positives: ReadonlySet<number>,
): { wrongPairs: number; scoredPositives: number } {
  let wrongPairs = 0;
  let scoredPositives = 0;
  for (const p of positives) {
    const sp = scores[p];
    if (!(sp > Number.NEGATIVE_INFINITY)) continue;
    scoredPositives++;
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (!(s > Number.NEGATIVE_INFINITY) || positives.has(i)) continue;
      if (s > sp) wrongPairs += 1;
      else if (s === sp) wrongPairs += 0.5;
    }
  }
  return { wrongPairs, scoredPositives };
}

/**
 * The same counts from the negatives' scores sorted once and two binary searches per positive: O(n log n)
 * instead of O(n · positives). Counts of whole and half pairs are exact in a double, so the result is
 * identical to the scan's.
 */
export function wrongPairsSorted(
  scores: ArrayLike<number>,
  positives: ReadonlySet<number>,
): { wrongPairs: number; scoredPositives: number } {
  const negatives: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (s > Number.NEGATIVE_INFINITY && !positives.has(i)) negatives.push(s);
  }
  const sorted = Float64Array.from(negatives).sort();
  // First index whose value is > x (strict) or >= x.
  const bound = (x: number, strict: boolean): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (strict ? sorted[mid] <= x : sorted[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let wrongPairs = 0;
  let scoredPositives = 0;
  for (const p of positives) {
    const sp = scores[p];
    if (!(sp > Number.NEGATIVE_INFINITY)) continue;
    scoredPositives++;
    const above = bound(sp, true);
    wrongPairs += sorted.length - above + 0.5 * (above - bound(sp, false));
  }
  return { wrongPairs, scoredPositives };
}

/** Running means keyed by metric name, in insertion order. */
export class MetricAccumulator {
  private readonly sums = new Map<string, number>();
  private count = 0;

  add(values: Record<string, number>): void {
    for (const [name, value] of Object.entries(values))
      this.sums.set(name, (this.sums.get(name) ?? 0) + value);
    this.count++;
  }

  get users(): number {
    return this.count;
  }

  means(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, sum] of this.sums) out[name] = this.count === 0 ? 0 : sum / this.count;
    return out;
  }
}
