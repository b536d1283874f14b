import { byCandidates, dotScores, dotScoresOne } from '../../core/eval/dot-scores.ts';
import type { FitHooks, Recommender, ScoreRequest, TrainingData } from '../../core/eval/model.ts';
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
  private everyItem = new Int32Array(0);
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

  /** The recency-weighted mean of the user's last history items' rows, written into `user` [dim]. */
  private userVector(history: Int32Array, user: Float32Array): void {
    const { dim, table } = this;
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
  }

  score(_user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    this.userVector(history, this.user);
    dotScoresOne(this.user, this.dim, this.table, candidates, out);
  }

  /** Requests that share one candidate list (full ranking) are scored together: bit-identical, faster. */
  scoreMany(requests: ScoreRequest[]): void {
    const { dim } = this;
    for (const group of byCandidates(requests)) {
      const users = new Float32Array(group.length * dim);
      group.forEach((r, n) => {
        this.userVector(r.history, users.subarray(n * dim, (n + 1) * dim));
      });
      dotScores(
        users,
        dim,
        this.table,
        group[0].candidates,
        group.map((r) => r.out),
      );
    }
  }

  /** Cosine of every item to `item` (rows are unit-norm, so the dot product), into `out` [numItems]. */
  itemScores(item: number, out: Float32Array): void {
    this.itemScoresMany(Int32Array.of(item), [out]);
  }

  /** `itemScores` for many query items at once (one pass over the table per four queries). */
  itemScoresMany(items: Int32Array, outs: Float32Array[]): void {
    const { dim, table } = this;
    const queries = new Float32Array(items.length * dim);
    items.forEach((item, n) => {
      queries.set(table.subarray(item * dim, (item + 1) * dim), n * dim);
    });
    dotScores(queries, dim, table, this.allItems(), outs);
  }

  private allItems(): Int32Array {
    if (this.everyItem.length !== this.numItems)
      this.everyItem = Int32Array.from({ length: this.numItems }, (_, i) => i);
    return this.everyItem;
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
