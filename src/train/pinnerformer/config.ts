/**
 * The training objectives of PinnerFormer's Table 1 (Pancha et al., KDD 2022):
 *   next-action       the final position of each window predicts the next positive action after it;
 *   sasrec            every position predicts the next positive action (SASRec's objective, sampled softmax);
 *   all-action        the final position predicts every positive action within the horizon;
 *   dense-all-action  every position predicts every positive action within the horizon after it.
 */
export const TRAINING_OBJECTIVES = ['next-action', 'sasrec', 'all-action', 'dense-all-action'] as const;
export type TrainingObjective = (typeof TRAINING_OBJECTIVES)[number];

export interface PinnerFormerOptions {
  /** Model width: token embeddings, attention and the output user embedding. */
  dim: number;
  layers: number;
  heads: number;
  /** Last M actions the encoder sees. */
  maxLength: number;
  /**
   * A learned attention bias per head and distance (query position − key position), on top of positions
   * counted from the window's start. Causal like them (a distance looks back only), and it lets every
   * position weigh its newest actions without knowing how many follow, which SASRec's positions counted
   * back from the window's end encoded (and dense training could learn from).
   */
  relativePositions: boolean;
  /** What each training example predicts (see TRAINING_OBJECTIVES). */
  objective: TrainingObjective;
  /** All-action objectives, with timestamps: the future horizon, in days after the position's action. */
  horizonDays: number;
  /** All-action objectives, without timestamps: the future horizon, as a count of following actions. */
  horizonActions: number;
  /** All-action objectives: at most this many targets per position (a seeded random subset beyond it). */
  maxTargetsPerPosition: number;
  /** Tokens per training batch (sequences are bucketed by length, so little of it is padding). */
  tokensPerBatch: number;
  /** Uniform random negatives per batch, on top of the batch's own targets (in-batch negatives). */
  randomNegatives: number;
  /**
   * The weight of the logQ correction subtracted from each logit (log-q.ts): 1 learns the unbiased
   * softmax, 0 keeps the popularity boost that in-batch negatives teach, above 1 penalises popular items
   * beyond the correction.
   */
  logQWeight: number;
  dropout: number;
  /**
   * Stochastic shared embeddings (SSE, Wu et al. 2019, as SSE-PT uses it): during training each input
   * action's item is replaced by a uniformly random item with this probability (targets never are); a
   * regulariser on sparse data. 0: off.
   */
  itemReplacement: number;
  /** Share one item table between the encoder's input and the output (SASRec does); a regulariser on sparse data. */
  tieEmbeddings: boolean;
  learningRate: number;
  /**
   * Learning-rate decay on a plateau: every epoch whose validation score is not a new best multiplies the
   * learning rate of the epochs after it by this factor (1: a constant rate). Early stopping still ends the
   * run after `patience` such epochs in a row.
   */
  plateauDecay: number;
  maxEpochs: number;
  /** Stop after this many epochs without a better validation score. */
  patience: number;
  /**
   * Optional wall-clock cap for training, in seconds (the best validated epoch so far is kept). Off by
   * default: a run's length then depends on epochs and early stopping only, so results do not depend on
   * the machine's speed or load. A run the cap cut says so (TrainResult.timeCut).
   */
  timeBudgetSeconds?: number;
  seed: number;
}

export const DEFAULT_PINNERFORMER_OPTIONS: PinnerFormerOptions = {
  // dim, heads, patience, plateauDecay and itemReplacement kept on amazon-games validation (sasrec
  // protocol, GNN features, seed 1; NDCG@10 on all 30,901 validation users, default 0.5778 / blend 0.5842):
  // dim 128 0.5781 / 0.5854 at 1.7× the epoch time, itemReplacement 0.1 0.5784 / 0.5833, both within the
  // sample's noise; heads 1, plateauDecay 0.5 and patience 6 no better on the 3,000-user sample
  // (docs/training.md, 2026-12-07).
  dim: 64,
  layers: 2,
  heads: 2,
  maxLength: 50,
  // Chosen on ml-100k validation NDCG@10 (sasrec protocol, GNN features, seed 1): 0.4790 with distance
  // biases against 0.4423 without (`edgerec train --data …/u.data --format movielens --models
  // gnn,pinnerformer [--relative-positions]`); without biases the curve peaked at epoch 8 and stopped.
  relativePositions: true,
  objective: 'sasrec',
  horizonDays: 28,
  horizonActions: 10,
  maxTargetsPerPosition: 8,
  // tokensPerBatch, layers and randomNegatives kept on amazon-games validation NDCG@10 (sasrec protocol,
  // GNN features, seed 1; default 0.5664): 512-token batches 0.5653, three layers 0.5662, 1024 random
  // negatives 0.5657 at twice the epoch time (docs/training.md, 2026-12-07).
  tokensPerBatch: 1024,
  randomNegatives: 256,
  // Kept on amazon-games validation NDCG@10 of the space validation picks (sasrec protocol, seed 1): 1 →
  // blend 0.5738; 1.5 → PinnerFormer 0.5687 (blend 0.5686); 2 → blend 0.5657; 0 and 0.5 trailed by
  // 0.04 and 0.01 (docs/training.md, 2026-12-07).
  logQWeight: 1,
  // Chosen on amazon-games validation NDCG@10 (untied, dropout 0.3: 0.504 best; tied, dropout 0.5: 0.552),
  // as SASRec does for sparse data.
  dropout: 0.5,
  itemReplacement: 0,
  tieEmbeddings: true,
  learningRate: 2e-3,
  plateauDecay: 1,
  maxEpochs: 40,
  patience: 3,
  seed: 1,
};

export { ACTION_TYPES, TIME_FEATURES, TIME_PERIODS_HOURS } from '../../core/sequence/time-features.ts';
