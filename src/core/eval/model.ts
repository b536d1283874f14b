import type { ItemCatalog } from '../dataset.ts';
import type { InteractionLog, UserItems } from '../interactions.ts';

/** What a model may learn from: the training part of a split, never its validation or test targets. */
export interface TrainingData {
  numUsers: number;
  numItems: number;
  /** Per-user positive items, oldest first. */
  train: UserItems;
  /** Every training-period event, impressions and hides included. */
  log: InteractionLog;
  hasTimestamps: boolean;
  catalog?: ItemCatalog;
}

export interface FitHooks {
  /** Progress of the fit, in the model's own units (epochs, users…). */
  onProgress?: (done: number, total: number, note?: string) => void;
  /**
   * Scores the model in its current state on the validation stage (higher is better). Models use it to
   * choose hyper-parameters and to stop early; the test split is never reachable from here.
   */
  validate?: () => number;
}

/** A user's events up to the stage's cut-off, oldest first: what a sequence encoder reads. */
export interface UserEvents {
  items: Int32Array;
  actions: Uint8Array;
  ts: Float64Array;
}

export interface ScoreRequest {
  user: number;
  /** Positive items so far, oldest first. */
  history: Int32Array;
  /** Every event so far (impressions and hides too), oldest first. */
  events: UserEvents;
  candidates: Int32Array;
  out: Float32Array;
}

/** The interface every recommender implements, from popularity to PinnerFormer. */
export interface Recommender {
  readonly name: string;
  fit(data: TrainingData, hooks?: FitHooks): Promise<void>;
  /**
   * Writes one score per candidate into `out` (higher ranks first). `history` is what the user has
   * engaged with so far, oldest first; models that learnt a user vector may ignore it.
   */
  score(user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void;
  /** Optional batched form of `score`: models that encode users with a network score a chunk at once. */
  scoreMany?(requests: ScoreRequest[]): void;
  /** Hyper-parameters and choices made during fit, for reports. */
  describe?(): Record<string, unknown>;
}
