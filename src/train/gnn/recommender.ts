import type { FitHooks, Recommender, TrainingData } from '../../core/eval/model.ts';
import { boardsFor, PinBoardGraph, type SampleOptions, sampleNeighbors } from '../graph/index.ts';
import type { GnnOptions } from './options.ts';
import { resolveGnnOptions } from './options.ts';
import { type GnnTrainResult, trainGnn } from './train.ts';

export interface GnnRecommenderOptions extends Partial<GnnOptions> {
  /** History items the user vector averages (most recent first). */
  historyLength?: number;
  /** Weight of a history item `age` steps back is decay^age. */
  historyDecay?: number;
  /** Random-walk options of the neighbour sampling (seed defaults to the GNN's). */
  walk?: Partial<SampleOptions>;
  checkpointDir?: string;
}

/**
 * The GNN as a recommender: `fit` samples importance neighbourhoods on the pin–board graph (the catalog's
 * boards, or sessions cut from the training sequences) and trains the GNN; a user is scored by the dot
 * product of each candidate's embedding with the recency-weighted mean of their last history items'.
 */
export class GnnRecommender implements Recommender {
  readonly name = 'gnn';
  private readonly options: GnnRecommenderOptions;
  private table: Float32Array = new Float32Array(0);
  private dim: number;
  private numItems = 0;
  private user = new Float32Array(0);
  private result?: GnnTrainResult;

  constructor(options: GnnRecommenderOptions = {}) {
    this.options = { historyLength: 20, historyDecay: 0.8, ...options };
    this.dim = resolveGnnOptions(options).dim;
  }

  /** A recommender over an already trained item table ([numItems × dim], rows L2-normalised). */
  static fromTable(table: Float32Array, dim: number, options: GnnRecommenderOptions = {}): GnnRecommender {
    if (!(Number.isInteger(dim) && dim >= 1) || table.length % dim !== 0)
      throw new RangeError(`gnn: a table of ${table.length} values is not rows of ${dim}`);
    const recommender = new GnnRecommender({ ...options, dim });
    recommender.setTable(table);
    return recommender;
  }

  private setTable(table: Float32Array): void {
    this.table = table;
    this.numItems = table.length / this.dim;
    this.user = new Float32Array(this.dim);
  }

  /** The item table scoring uses. */
  get itemTable(): Float32Array {
    return this.table;
  }

  async fit(data: TrainingData, hooks: FitHooks = {}): Promise<void> {
    const { historyLength: _l, historyDecay: _d, walk, checkpointDir, ...gnn } = this.options;
    const seed = resolveGnnOptions(gnn).seed;
    hooks.onProgress?.(0, 1, 'graph');
    const graph = PinBoardGraph.fromBoards(data.numItems, boardsFor(data));
    const neighbors = await sampleNeighbors(graph, { seed, ...walk });
    const validate = hooks.validate;
    this.result = await trainGnn(data, neighbors, gnn, {
      checkpointDir,
      onProgress: (info) =>
        hooks.onProgress?.(
          info.epoch * info.stepsPerEpoch + info.step,
          info.epochs * info.stepsPerEpoch,
          `epoch ${info.epoch + 1}: loss ${info.loss.toFixed(4)}, ${Math.round(info.examplesPerSecond)} pairs/s`,
        ),
      validate: validate
        ? (table) => {
            this.setTable(table);
            return validate();
          }
        : undefined,
    });
    this.setTable(this.result.table);
  }

  score(_user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    const { dim, table, user } = this;
    const decay = this.options.historyDecay ?? 0.8;
    const start = Math.max(0, history.length - (this.options.historyLength ?? 20));
    user.fill(0);
    let weight = 1;
    let total = 0;
    for (let h = history.length - 1; h >= start; h--) {
      const item = history[h];
      if (item >= 0 && item < this.numItems) {
        const row = item * dim;
        for (let d = 0; d < dim; d++) user[d] += weight * table[row + d];
        total += weight;
      }
      weight *= decay;
    }
    if (total > 0) for (let d = 0; d < dim; d++) user[d] /= total;
    for (let c = 0; c < candidates.length; c++) {
      const row = candidates[c] * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += user[d] * table[row + d];
      out[c] = s;
    }
  }

  /** Cosine of every item to `item` (rows are unit-norm, so the dot product), into `out` [numItems]. */
  itemScores(item: number, out: Float32Array): void {
    const { dim, table } = this;
    const query = item * dim;
    for (let j = 0; j < this.numItems; j++) {
      const row = j * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += table[query + d] * table[row + d];
      out[j] = s;
    }
  }

  describe(): Record<string, unknown> {
    const { walk, checkpointDir: _c, historyLength: _l, historyDecay: _d, ...gnn } = this.options;
    return {
      ...resolveGnnOptions(gnn),
      historyLength: this.options.historyLength,
      historyDecay: this.options.historyDecay,
      walk,
      ...(this.result && {
        bestEpoch: this.result.bestEpoch,
        bestScore: this.result.bestScore,
        history: this.result.history,
        trainSeconds: this.result.seconds,
      }),
    };
  }
}
