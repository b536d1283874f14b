import type { Recommender } from '../../core/eval/model.ts';
import { BprRecommender, ItemKnnRecommender, PopularityRecommender } from '../baselines/index.ts';
import { GNN_DEFAULTS, GnnRecommender, resolveGnnOptions } from '../gnn/index.ts';
import { DEFAULT_PINNERFORMER_OPTIONS, PinnerFormerRecommender } from '../pinnerformer/index.ts';
import {
  boolean,
  type Configuration,
  fraction,
  integerAtLeast,
  nonNegativeNumber,
  type OptionSpec,
  oneOfOrInteger,
  positiveNumber,
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

/** PinnerFormer's options, typed by their defaults (the seed comes from --seed, never from the grid). */
function pinnerFormerOptions(): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const [key, value] of Object.entries(DEFAULT_PINNERFORMER_OPTIONS)) {
    if (key === 'seed' || key === 'timeBudgetSeconds') continue;
    if (typeof value === 'boolean') out[key] = boolean;
    else if (typeof value === 'number') out[key] = Number.isInteger(value) ? count : nonNegativeNumber;
  }
  return out;
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
    options: pinnerFormerOptions(),
    create: (configuration, seed) => new PinnerFormerRecommender({ ...configuration, ...NO_CLOCK, seed }),
  },
};
