import { RANKER_HEADS, type RankerHead } from '../bundle/manifest.ts';

/**
 * Pinterest-style multi-objective utility: Σ_a w_a · P(a). Saves count most, clicks and close-ups less,
 * a hide costs more than a save earns (a hidden pin is a visible failure of the feed).
 */
export const DEFAULT_UTILITY_WEIGHTS: Readonly<Record<RankerHead, number>> = {
  click: 1,
  closeup: 0.5,
  save: 2,
  hide: -4,
};

/** Utility of one candidate from its head probabilities (in RANKER_HEADS order) at `offset`. */
export function utility(
  probs: ArrayLike<number>,
  offset: number,
  weights: Record<RankerHead, number>,
): number {
  let u = 0;
  RANKER_HEADS.forEach((head, h) => {
    u += weights[head] * probs[offset + h];
  });
  return u;
}

/** The realised utility of what a user did with a candidate: the gain utility-NDCG scores against. */
export function realisedUtility(
  labels: ArrayLike<number>,
  offset: number,
  weights: Record<RankerHead, number>,
) {
  return utility(labels, offset, weights);
}
