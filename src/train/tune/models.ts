import { InputError } from '../../core/errors.ts';
import type { Recommender } from '../../core/eval/model.ts';
import { BprRecommender, ItemKnnRecommender, PopularityRecommender } from '../baselines/index.ts';
import { GNN_DEFAULTS, GnnRecommender, resolveGnnOptions } from '../gnn/index.ts';
import {
  DEFAULT_PINNERFORMER_OPTIONS,
  type PinnerFormerOptions,
  PinnerFormerRecommender,
  TRAINING_OBJECTIVES,
} from '../pinnerformer/index.ts';
import {
  boolean,
  type Configuration,
  fraction,
  integerAtLeast,
  nonNegativeNumber,
  type OptionSpec,
  oneOf,
  oneOfOrInteger,
  positiveNumber,
  rate,
} from './grid.ts';

export const TUNABLE_MODELS = ['pop', 'itemknn', 'bpr', 'gnn', 'pinnerformer'] as const;
export type TunableModel = (typeof TUNABLE_MODELS)[number];

interface TunableSpec {
  options: Readonly<Record<string, OptionSpec>>;
  /** A fresh, unfitted model with these option values; `seed` seeds its initialisation and sampling. */
  create(configuration: Configuration, seed: number): Recommender;
}

const count = integerAtLeast(0);
const positiveInteger = integerAtLeast(1);

const GNN_OPTIONS: Record<string, OptionSpec> = {
  dim: positiveInteger,
  hidden: positiveInteger,
  layers: count,
  trainNeighbors: positiveInteger,
  inferenceNeighbors: oneOfOrInteger(['all'], 1),
  topics: boolean,
  titles: boolean,
  titleBuckets: count,
  window: positiveInteger,
  boardShare: fraction,
  symmetric: boolean,
  sharedNegatives: count,
  margin: nonNegativeNumber,
  batchSize: positiveInteger,
  maxHard: count,
  epochs: positiveInteger,
  stepsPerEpoch: count,
  maxStepsPerEpoch: positiveInteger,
  patience: count,
  learningRate: positiveNumber,
  sparseLearningRate: positiveNumber,
  initStd: positiveNumber,
  // How the recommender turns item vectors into a user vector.
  historyLength: positiveInteger,
  historyDecay: fraction,
};

/**
 * What each PinnerFormer option accepts, for `tune --grid` and `train --pinnerformer KEY=VALUE` (the seed
 * comes from --seed, a wall-clock cap from --time-budget). Spelt out rather than read off the defaults: a
 * default of 1 does not make a weight an integer. Typed so that a new option without a spec fails to compile.
 */
export const PINNERFORMER_OPTION_SPECS: Readonly<
  Record<Exclude<keyof PinnerFormerOptions, 'seed' | 'timeBudgetSeconds'>, OptionSpec>
> = {
  dim: positiveInteger,
  layers: positiveInteger,
  heads: positiveInteger,
  maxLength: positiveInteger,
  relativePositions: boolean,
  objective: oneOf(TRAINING_OBJECTIVES),
  horizonDays: positiveInteger,
  horizonActions: positiveInteger,
  maxTargetsPerPosition: positiveInteger,
  tokensPerBatch: positiveInteger,
  randomNegatives: count,
  logQWeight: nonNegativeNumber,
  dropout: rate,
  itemReplacement: rate,
  tieEmbeddings: boolean,
  learningRate: positiveNumber,
  plateauDecay: fraction,
  maxEpochs: positiveInteger,
  patience: positiveInteger,
};

/** Cross-option checks the per-option specs cannot make; undefined when the options fit together. */
export function pinnerFormerOptionsProblem(options: Partial<PinnerFormerOptions>): string | undefined {
  const { dim, heads } = { ...DEFAULT_PINNERFORMER_OPTIONS, ...options };
  return dim % heads === 0 ? undefined : `dim ${dim} must be a multiple of heads ${heads}`;
}

/**
 * A wall-clock cap would make a row depend on the machine's load; where PinnerFormer still has one it is
 * lifted, so training length comes from epochs and validation early stopping only.
 */
const NO_CLOCK: Record<string, number> =
  'timeBudgetSeconds' in DEFAULT_PINNERFORMER_OPTIONS ? { timeBudgetSeconds: 1e9 } : {};

export const TUNABLE: Readonly<Record<TunableModel, TunableSpec>> = {
  pop: { options: {}, create: () => new PopularityRecommender() },
  itemknn: {
    options: { neighbors: positiveInteger, historyLength: positiveInteger, decay: fraction },
    create: ({ decay, ...rest }) =>
      new ItemKnnRecommender({ ...rest, ...(decay !== undefined && { decays: [decay as number] }) }),
  },
  bpr: {
    options: {
      dim: positiveInteger,
      learningRate: positiveNumber,
      regularization: nonNegativeNumber,
      maxEpochs: positiveInteger,
      validateEvery: positiveInteger,
      patience: positiveInteger,
    },
    create: (configuration, seed) => new BprRecommender({ ...configuration, seed }),
  },
  gnn: {
    options: GNN_OPTIONS,
    create: (configuration, seed) => {
      // Cross-field checks (e.g. titleBuckets with titles) with the GNN's own messages.
      resolveGnnOptions({ ...GNN_DEFAULTS, ...configuration, seed });
      return new GnnRecommender({ ...configuration, seed });
    },
  },
  pinnerformer: {
    options: PINNERFORMER_OPTION_SPECS,
    create: (configuration, seed) => {
      const problem = pinnerFormerOptionsProblem(configuration);
      if (problem) throw new InputError(`pinnerformer: ${problem}`);
      return new PinnerFormerRecommender({ ...configuration, ...NO_CLOCK, seed });
    },
  },
};
