import {
  RETRIEVAL_MODEL_NAMES,
  type RetrievalBlend,
  type RetrievalModelName,
} from '../../core/bundle/index.ts';
import type { ActionSequence } from '../pinnerformer/sequences.ts';

/** The global models whose item table a bundle's browser scans and whose user embeddings the server serves. */
export const RETRIEVAL_MODELS = RETRIEVAL_MODEL_NAMES;
export type RetrievalModel = RetrievalModelName;

/**
 * One vector space for retrieval: user embeddings from action sequences, dot products with `items`. The
 * server's refresh job, the compact encoder's distillation target and the ranker's long-term feature all
 * come from `embedSequences`, so device and server stay in the space the browser's table is in.
 */
export interface UserSpace {
  readonly model: RetrievalModel;
  readonly dim: number;
  /** The most actions that change a user's embedding (older ones are ignored). */
  readonly maxLength: number;
  readonly hasTimestamps: boolean;
  /** Items × dim, row-major: the table retrieval scans. */
  readonly items: Float32Array;
  /** Users × dim for the given sequences (zeros for a sequence without positives where the model has none). */
  embedSequences(sequences: ActionSequence[]): Float32Array;
}

/** What `edgerec train` chose, and why: run.json's `retrieval`. */
export interface RetrievalChoice {
  model: RetrievalModel;
  /** `validation`: the highest score below won; `forced`: `--retrieval` named the model. */
  chosenBy: 'validation' | 'forced' | 'only-candidate';
  metric: string;
  /** Validation-stage score of each candidate that was trained. */
  validation: Partial<Record<RetrievalModel, number>>;
  /** The blend's weight, per-space scales and weight grid, when both PinnerFormer and LightGCN were trained. */
  blend?: RetrievalBlend;
}

/**
 * The candidate with the highest validation score; ties go to the earlier one in RETRIEVAL_MODELS (a
 * single space before the blend, whose table is twice as wide).
 */
export function chooseRetrievalModel(validation: Partial<Record<RetrievalModel, number>>): RetrievalModel {
  let best: RetrievalModel | undefined;
  for (const model of RETRIEVAL_MODELS) {
    const score = validation[model];
    if (score === undefined || !Number.isFinite(score)) continue;
    if (best === undefined || score > (validation[best] as number)) best = model;
  }
  if (!best) throw new Error('no retrieval model has a validation score');
  return best;
}
