import type { FitHooks, Recommender, TrainingData } from '../../core/eval/model.ts';
import { derivedRandom, Random } from '../../core/random.ts';
import { type BprBatch, bprLossAndGradient } from './bpr-gradient.ts';
import { foldInUser, normalizedAdjacency, Propagation } from './propagation.ts';

export interface LightGcnOptions {
  dim: number;
  layers: number;
  learningRate: number;
  /** L2 on the batch's layer-0 rows, (l2 / 2)·Σ‖e⁰‖² / batch, as the paper's code. */
  l2: number;
  batchSize: number;
  maxEpochs: number;
  /** Validate every this many epochs; stop after `patience` checks without improvement. */
  validateEvery: number;
  patience: number;
  seed: number;
  /**
   * How a user is scored: `learned` — their propagated row (training-split users only); `fold-in` — from
   * the history the harness passes (train, or train + validation at test), as a user outside the graph
   * would be, which is how a bundle's server and device compute user embeddings.
   */
  users: 'learned' | 'fold-in';
}

// The paper's dimension, layers and L2 (He et al. 2020, §4.1.2: d 64, K 3, L2 1e-4). Its batch of 2,048
// at learning rate 1e-3 needs hundreds of epochs, each costing 6 sparse products per batch; a batch of
// 8,192 at 3e-2 (ml-100k validation Recall@20: 0.2284 at epoch 60 against 0.2057 at 1e-2) and a cap of
// 100 epochs keep Amazon Games at about 17 CPU-minutes. The validation runs are in notes/graph.md.
const DEFAULTS: LightGcnOptions = {
  dim: 64,
  layers: 3,
  learningRate: 3e-2,
  l2: 1e-4,
  batchSize: 8192,
  maxEpochs: 100,
  validateEvery: 5,
  patience: 3,
  seed: 1,
  users: 'learned',
};

const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/**
 * LightGCN (He et al., SIGIR 2020): layer-0 user and item embeddings, propagated K times over the
 * normalised user–item graph without weights or non-linearities, averaged over layers; BPR on sampled
 * (user, positive, negative) triples, Adam on the layer-0 table. Gradients flow back through the same
 * sparse products (Â is symmetric). Single-threaded and seeded, so two fits give the same bytes.
 */
export class LightGcnRecommender implements Recommender {
  readonly name = 'lightgcn';
  private readonly options: LightGcnOptions;
  private numUsers = 0;
  /** Propagated (final) embeddings, users then items: what scores are dot products of. */
  private final = new Float32Array(0);
  /** Item rows of the fold-in table (see `Propagation.foldIn`), from the kept epoch's layer-0 weights. */
  private foldIn = new Float32Array(0);
  private epochsRun = 0;
  private bestEpoch = 0;
  private readonly curve: [number, number][] = [];
  private propagationSeconds = 0;
  private fitSeconds = 0;

  constructor(options: Partial<LightGcnOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
    for (const key of ['dim', 'layers', 'batchSize', 'maxEpochs', 'validateEvery', 'patience'] as const) {
      const value = this.options[key];
      if (!Number.isInteger(value) || value < (key === 'layers' ? 0 : 1))
        throw new RangeError(`LightGCN option ${key} must be a positive integer, got ${value}`);
    }
    if (!(this.options.learningRate > 0))
      throw new RangeError(`LightGCN option learningRate must be > 0, got ${this.options.learningRate}`);
    if (this.options.users !== 'learned' && this.options.users !== 'fold-in')
      throw new RangeError(`LightGCN option users must be learned or fold-in, got ${this.options.users}`);
    if (!(this.options.l2 >= 0))
      throw new RangeError(`LightGCN option l2 must be >= 0, got ${this.options.l2}`);
  }

  async fit(data: TrainingData, hooks: FitHooks = {}): Promise<void> {
    const started = performance.now();
    const { dim, layers, batchSize, maxEpochs, seed, l2, learningRate: lr } = this.options;
    const { numUsers, numItems, train } = data;
    this.numUsers = numUsers;
    const propagation = new Propagation(normalizedAdjacency(train, numItems), dim, layers);
    const n = numUsers + numItems;
    const size = n * dim;
    const init = new Random(seed);
    const weights = new Float32Array(size);
    for (let i = 0; i < size; i++) weights[i] = init.normal() * 0.1;
    const m = new Float32Array(size);
    const v = new Float32Array(size);
    const final = new Float32Array(size);
    const gradFinal = new Float32Array(size);
    const grad = new Float32Array(size);
    this.final = final;
    this.foldIn = new Float32Array(numItems * dim);

    const trainable: number[] = [];
    for (let u = 0; u < numUsers; u++) {
      const count = train.offsets[u + 1] - train.offsets[u];
      if (count > 0 && count < numItems) trainable.push(u);
    }
    const seen = new Set<number>();
    for (let u = 0; u < numUsers; u++)
      for (let k = train.offsets[u]; k < train.offsets[u + 1]; k++) seen.add(u * numItems + train.items[k]);
    const batches = Math.ceil(train.items.length / batchSize);
    const batch: BprBatch = {
      users: new Int32Array(batchSize),
      positives: new Int32Array(batchSize),
      negatives: new Int32Array(batchSize),
    };
    const scratch = { final, gradFinal };

    let best = Number.NEGATIVE_INFINITY;
    let sinceBest = 0;
    let snapshot: Float32Array | undefined;
    let bestWeights: Float32Array | undefined;
    let step = 0;
    this.curve.length = 0;
    for (let epoch = 1; epoch <= maxEpochs && trainable.length > 0; epoch++) {
      const random = derivedRandom(seed, epoch);
      for (let b = 0; b < batches; b++) {
        for (let s = 0; s < batchSize; s++) {
          const u = trainable[random.int(trainable.length)];
          const start = train.offsets[u];
          batch.users[s] = u;
          batch.positives[s] = train.items[start + random.int(train.offsets[u + 1] - start)];
          let j = random.int(numItems);
          while (seen.has(u * numItems + j)) j = random.int(numItems);
          batch.negatives[s] = j;
        }
        bprLossAndGradient(propagation, weights, batch, numUsers, l2, scratch, grad);
        step++;
        const c1 = 1 - ADAM.beta1 ** step;
        const c2 = 1 - ADAM.beta2 ** step;
        for (let i = 0; i < size; i++) {
          const gi = grad[i];
          m[i] = ADAM.beta1 * m[i] + (1 - ADAM.beta1) * gi;
          v[i] = ADAM.beta2 * v[i] + (1 - ADAM.beta2) * gi * gi;
          weights[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + ADAM.epsilon);
        }
      }
      this.epochsRun = epoch;
      hooks.onProgress?.(epoch, maxEpochs, 'epochs');
      if (!hooks.validate || (epoch % this.options.validateEvery !== 0 && epoch !== maxEpochs)) continue;
      propagation.run(weights, final);
      if (this.options.users === 'fold-in') propagation.foldIn(weights, numUsers, this.foldIn);
      const value = hooks.validate();
      this.curve.push([epoch, value]);
      if (value > best) {
        best = value;
        sinceBest = 0;
        this.bestEpoch = epoch;
        snapshot = final.slice();
        bestWeights = weights.slice();
      } else if (++sinceBest >= this.options.patience) {
        break;
      }
    }
    if (snapshot) {
      final.set(snapshot);
    } else {
      propagation.run(weights, final);
      this.bestEpoch = this.epochsRun;
    }
    propagation.foldIn(bestWeights ?? weights, numUsers, this.foldIn);
    this.propagationSeconds = propagation.seconds;
    this.fitSeconds = (performance.now() - started) / 1000;
    hooks.onProgress?.(maxEpochs, maxEpochs, 'epochs');
  }

  score(user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    const { dim } = this.options;
    const f = this.final;
    let query = f;
    let pu = user * dim;
    if (this.options.users === 'fold-in') {
      query = new Float32Array(dim);
      foldInUser(this.foldIn, dim, history, query);
      pu = 0;
    }
    for (let c = 0; c < candidates.length; c++) {
      const q = (this.numUsers + candidates[c]) * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += query[pu + d] * f[q + d];
      out[c] = s;
    }
  }

  /** Items × dim: a user outside the graph embeds as (1/sqrt|W|)·Σ of these rows over their items W. */
  foldInTable(): Float32Array {
    return this.foldIn.slice();
  }

  /** The propagated item table (items × dim, row-major): what a retrieval index scans. */
  itemTable(): Float32Array {
    return this.final.slice(this.numUsers * this.options.dim);
  }

  /** The propagated user table (users × dim, row-major). */
  userTable(): Float32Array {
    return this.final.slice(0, this.numUsers * this.options.dim);
  }

  describe(): Record<string, unknown> {
    return {
      ...this.options,
      epochsRun: this.epochsRun,
      bestEpoch: this.bestEpoch,
      validation: this.curve.map(([epoch, value]) => `${epoch}:${value.toFixed(4)}`).join(' '),
      propagationSeconds: Math.round(this.propagationSeconds * 10) / 10,
      fitSeconds: Math.round(this.fitSeconds * 10) / 10,
    };
  }
}
