import type { FitHooks, Recommender, ScoreRequest, TrainingData } from '../../core/eval/model.ts';
import { initTraining } from '../tf/backend.ts';
import { buildBatch, type Example } from './batches.ts';
import { DEFAULT_PINNERFORMER_OPTIONS, type PinnerFormerOptions } from './config.ts';
import type { ItemFeatures, PinnerFormerModel } from './model.ts';
import { type ActionSequence, sequenceFromItems } from './sequences.ts';
import { type EpochRecord, type TrainHooks, type TrainProgress, trainPinnerFormer } from './trainer.ts';

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
    const users = this.embedSequences(requests.map((r) => sequenceFromItems(r.history)));
    requests.forEach((request, n) => {
      const u = users.subarray(n * dim, (n + 1) * dim);
      for (let c = 0; c < request.candidates.length; c++) {
        const base = request.candidates[c] * dim;
        let s = 0;
        for (let d = 0; d < dim; d++) s += u[d] * this.items[base + d];
        request.out[c] = s;
      }
    });
  }

  score(user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    this.scoreMany([{ user, history, candidates, out }]);
  }

  describe(): Record<string, unknown> {
    return {
      ...this.options,
      bestEpoch: this.bestEpoch,
      trainSeconds: Math.round(this.seconds),
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
