import { byCandidates, dotScores } from '../../core/eval/dot-scores.ts';
import type { FitHooks, Recommender, ScoreRequest, TrainingData } from '../../core/eval/model.ts';
import { initTraining } from '../tf/backend.ts';
import { buildBatch, type Example } from './batches.ts';
import { DEFAULT_PINNERFORMER_OPTIONS, type PinnerFormerOptions } from './config.ts';
import type { ItemFeatures, PinnerFormerModel } from './model.ts';
import { type ActionSequence, sequenceFromEvents, sequenceFromItems } from './sequences.ts';
import {
  type EpochRecord,
  type TimeCut,
  type TrainHooks,
  type TrainProgress,
  trainPinnerFormer,
} from './trainer.ts';

const USERS_PER_FORWARD = 256;

/** Scores candidates by the dot product of the encoded user (after their newest action) with the item table. */
export class PinnerFormerRecommender implements Recommender {
  readonly name = 'pinnerformer';
  private readonly options: PinnerFormerOptions;
  private readonly features?: ItemFeatures;
  private readonly trainHooks: Omit<TrainHooks, 'validate'>;
  private model?: PinnerFormerModel;
  private items: Float32Array = new Float32Array(0);
  private history: EpochRecord[] = [];
  private bestEpoch = -1;
  private seconds = 0;
  private timeCut?: TimeCut;
  private hasTimestamps = false;
  private everyItem = new Int32Array(0);

  constructor(
    options: Partial<PinnerFormerOptions> = {},
    features?: ItemFeatures,
    hooks: Omit<TrainHooks, 'validate'> = {},
  ) {
    this.options = { ...DEFAULT_PINNERFORMER_OPTIONS, ...options };
    this.features = features;
    this.trainHooks = hooks;
  }

  async fit(data: TrainingData, hooks: FitHooks = {}): Promise<void> {
    await initTraining();
    this.hasTimestamps = data.hasTimestamps;
    const result = await trainPinnerFormer(
      data,
      this.options,
      {
        ...this.trainHooks,
        onProgress: (p: TrainProgress) => {
          this.trainHooks.onProgress?.(p);
          hooks.onProgress?.(p.step, p.stepsPerEpoch, `epoch ${p.epoch + 1}`);
        },
        validate: hooks.validate
          ? (model) => {
              this.attach(model);
              return hooks.validate!();
            }
          : undefined,
      },
      this.features,
    );
    this.attach(result.model);
    this.history = result.history;
    this.bestEpoch = result.bestEpoch;
    this.seconds = result.seconds;
    this.timeCut = result.timeCut;
  }

  /** A recommender around an already trained model (loaded from disk), without fitting. */
  static fromModel(model: PinnerFormerModel, hasTimestamps: boolean): PinnerFormerRecommender {
    const recommender = new PinnerFormerRecommender(model.options, model.features);
    recommender.hasTimestamps = hasTimestamps;
    recommender.attach(model);
    return recommender;
  }

  get timestamps(): boolean {
    return this.hasTimestamps;
  }

  private attach(model: PinnerFormerModel): void {
    this.model = model;
    this.items = model.itemTable();
  }

  get trained(): PinnerFormerModel {
    if (!this.model) throw new Error('PinnerFormer is not fitted');
    return this.model;
  }

  /** The final item table (the one retrieval runs over), [numItems × dim]. */
  itemTable(): Float32Array {
    return this.items;
  }

  /** User embeddings for a list of action sequences, [n × dim], batched. */
  embedSequences(sequences: ActionSequence[]): Float32Array {
    const model = this.trained;
    const { dim, maxLength } = model.options;
    const out = new Float32Array(sequences.length * dim);
    for (let start = 0; start < sequences.length; start += USERS_PER_FORWARD) {
      const chunk = sequences.slice(start, start + USERS_PER_FORWARD);
      const examples: Example[] = chunk.map((s, i) => ({
        user: start + i,
        start: Math.max(0, s.items.length - maxLength),
        end: s.items.length,
      }));
      out.set(model.userEmbeddings(buildBatch(sequences, examples)), start * dim);
    }
    return out;
  }

  scoreMany(requests: ScoreRequest[]): void {
    const { dim } = this.trained.options;
    const users = this.embedSequences(requests.map((r) => sequenceFromEvents(r.events, this.hasTimestamps)));
    const row = new Map(requests.map((request, n) => [request, n]));
    // Requests sharing one candidate list (full ranking) in one pass over the table: bit-identical to dot().
    for (const group of byCandidates(requests)) {
      const queries = new Float32Array(group.length * dim);
      group.forEach((r, n) => {
        const u = row.get(r) as number;
        queries.set(users.subarray(u * dim, (u + 1) * dim), n * dim);
      });
      dotScores(
        queries,
        dim,
        this.items,
        group[0].candidates,
        group.map((r) => r.out),
      );
    }
  }

  private dot(user: Float32Array, candidates: Int32Array, out: Float32Array): void {
    const { dim } = this.trained.options;
    for (let c = 0; c < candidates.length; c++) {
      const base = candidates[c] * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += user[d] * this.items[base + d];
      out[c] = s;
    }
  }

  /** Related items: cosine of item-tower embeddings (rows are unit-norm). */
  itemScores(item: number, out: Float32Array): void {
    const { dim } = this.trained.options;
    this.dot(this.items.subarray(item * dim, (item + 1) * dim), this.allItems(), out);
  }

  private allItems(): Int32Array {
    const n = this.items.length / this.trained.options.dim;
    if (this.everyItem.length !== n) this.everyItem = Int32Array.from({ length: n }, (_, i) => i);
    return this.everyItem;
  }

  /** Unbatched scoring from positive items alone (no actions or times), for callers without events. */
  score(user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    void user;
    this.dot(this.embedSequences([sequenceFromItems(history)]), candidates, out);
  }

  describe(): Record<string, unknown> {
    return {
      ...this.options,
      bestEpoch: this.bestEpoch,
      trainSeconds: Math.round(this.seconds),
      ...(this.timeCut ? { timeCut: this.timeCut } : {}),
      epochs: this.history.map((h) => ({
        epoch: h.epoch,
        loss: round(h.loss),
        validation: round(h.validation),
      })),
    };
  }
}

function round(x: number | undefined): number | undefined {
  return x === undefined ? undefined : Math.round(x * 1e4) / 1e4;
}
