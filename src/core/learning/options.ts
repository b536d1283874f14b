/**
 * What on-device learning reads and how it optimises. The defaults are the replay's validation choice on the
 * default bundle before choices were per bundle; a bundle built now carries its own (`manifest.learning`,
 * bundle-choice.ts), and these remain for bundles without one.
 */
export interface LearningOptions {
  /** Gradient-descent step size. */
  learningRate: number;
  /** Full-batch steps per learning run (each run starts from the prior: the result is a function of the events). */
  steps: number;
  /** λ of the pull λ·‖u − prior‖² that keeps a few events from wrecking the embedding. */
  l2: number;
  /** Logit scale (inverse temperature) of the softmax over items. */
  scale: number;
  /** Half-life of a positive's weight, by its age before the newest event (days; 0 = no decay). */
  halfLifeDays: number;
  /** Weight of a hidden pin in the softmax's denominator (explicit negative). */
  hideWeight: number;
  /** Weight of a pin shown and ignored (implicit negative). */
  implicitWeight: number;
  /** Pins drawn uniformly from the item table as sampled-softmax negatives (log-Q corrected). */
  sampled: number;
  /** Implicit negatives kept, the newest first. */
  maxImplicit: number;
  /** Events read, the newest first (the engine's view of its log). */
  maxEvents: number;
  /** Seed of the sampled negatives (with the events it makes the draw). */
  seed: number;
}

export const DEFAULT_LEARNING_OPTIONS: Readonly<LearningOptions> = {
  learningRate: 0.5,
  steps: 30,
  // λ = 10 on the default (LightGCN-space) bundle's validation window: learned+multi Recall@20 0.1434
  // against 0.1299 at λ = 1 and 0.1420 for multi-interest without learning (500 users, seed 0; docs/replay.md).
  // On a PinnerFormer-space bundle λ = 1 had won (0.1224 against 0.1134 at λ = 0.1).
  l2: 10,
  scale: 5,
  halfLifeDays: 7,
  hideWeight: 4,
  implicitWeight: 1,
  sampled: 256,
  maxImplicit: 200,
  maxEvents: 500,
  seed: 0,
};

/**
 * Weight of the learned embedding against the compact encoder's real-time one in the retrieval query
 * (the engine's `longTermWeight` while a learned embedding exists): 1, the learned one alone — chosen with
 * λ = 1 on the replay's validation window (docs/replay.md).
 */
export const DEFAULT_LEARNED_WEIGHT = 1;
