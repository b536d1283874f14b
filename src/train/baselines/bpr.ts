import { byCandidates, dotScores, dotScoresOne } from '../../core/eval/dot-scores.ts';
import type { FitHooks, Recommender, ScoreRequest, TrainingData } from '../../core/eval/model.ts';
import { Random } from '../../core/random.ts';

export interface BprOptions {
  dim: number;
  learningRate: number;
  regularization: number;
  maxEpochs: number;
  /** Validate every this many epochs; stop after `patience` checks without improvement. */
  validateEvery: number;
  patience: number;
  seed: number;
}

const DEFAULTS: BprOptions = {
  // Chosen on the validation stage only (sasrec protocol, NDCG@10, seed 0) with
  // `edgerec tune --model bpr --grid tune/bpr.json` (learning rate {0.05, 0.1, 0.2} x L2 {0.002, 0.02} x dim
  // {32, 64}; tables in notes/tune.md). One default for every data set: the best mean over ml-100k and
  // synthetic. L2 0.02 and dim 64 won on both; the learning rate split them (ml-100k 0.4048 at 0.05 vs 0.3801
  // at 0.2; synthetic 0.3932 vs 0.4699), and 0.2 has the better mean (0.425 vs 0.399 at 0.05, 0.409 at 0.1).
  dim: 64,
  learningRate: 0.2,
  regularization: 0.02,
  maxEpochs: 100,
  validateEvery: 5,
  patience: 3,
  seed: 1,
};

/**
 * Bayesian Personalised Ranking matrix factorisation (Rendle et al. 2009): SGD on sampled
 * (user, positive, negative) triples, updating only the three touched rows of Float32Array tables.
 * Early stopping keeps the epoch with the best validation score.
 */
export class BprRecommender implements Recommender {
  readonly name = 'bpr';
  private readonly options: BprOptions;
  private users = new Float32Array(0);
  private items = new Float32Array(0);
  private bias = new Float32Array(0);
  private epochsRun = 0;
  private bestEpoch = 0;

  constructor(options: Partial<BprOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  async fit(data: TrainingData, hooks: FitHooks = {}): Promise<void> {
    const { dim, learningRate: lr, regularization: reg, maxEpochs, seed } = this.options;
    const { numUsers, numItems, train } = data;
    const random = new Random(seed);
    this.users = new Float32Array(numUsers * dim);
    this.items = new Float32Array(numItems * dim);
    this.bias = new Float32Array(numItems);
    for (let i = 0; i < this.users.length; i++) this.users[i] = random.normal() * 0.1;
    for (let i = 0; i < this.items.length; i++) this.items[i] = random.normal() * 0.1;

    const pairUser = new Int32Array(train.items.length);
    for (let u = 0; u < numUsers; u++) pairUser.fill(u, train.offsets[u], train.offsets[u + 1]);
    const seen = new Set<number>();
    for (let n = 0; n < train.items.length; n++) seen.add(pairUser[n] * numItems + train.items[n]);
    const U = this.users;
    const V = this.items;
    const b = this.bias;

    let best = Number.NEGATIVE_INFINITY;
    let sinceBest = 0;
    let snapshot: { users: Float32Array; items: Float32Array; bias: Float32Array } | undefined;
    for (let epoch = 1; epoch <= maxEpochs; epoch++) {
      for (let step = 0; step < train.items.length; step++) {
        const n = random.int(train.items.length);
        const u = pairUser[n];
        const i = train.items[n];
        if (train.offsets[u + 1] - train.offsets[u] >= numItems) continue;
        let j = random.int(numItems);
        while (seen.has(u * numItems + j)) j = random.int(numItems);
        const pu = u * dim;
        const qi = i * dim;
        const qj = j * dim;
        let x = b[i] - b[j];
        for (let d = 0; d < dim; d++) x += U[pu + d] * (V[qi + d] - V[qj + d]);
        const g = 1 / (1 + Math.exp(x));
        for (let d = 0; d < dim; d++) {
          const userValue = U[pu + d];
          const vi = V[qi + d];
          const vj = V[qj + d];
          U[pu + d] += lr * (g * (vi - vj) - reg * userValue);
          V[qi + d] += lr * (g * userValue - reg * vi);
          V[qj + d] += lr * (-g * userValue - reg * vj);
        }
        b[i] += lr * (g - reg * b[i]);
        b[j] += lr * (-g - reg * b[j]);
      }
      this.epochsRun = epoch;
      hooks.onProgress?.(epoch, maxEpochs, 'epochs');
      if (!hooks.validate || epoch % this.options.validateEvery !== 0) continue;
      const value = hooks.validate();
      if (value > best) {
        best = value;
        sinceBest = 0;
        this.bestEpoch = epoch;
        snapshot = { users: U.slice(), items: V.slice(), bias: b.slice() };
      } else if (++sinceBest >= this.options.patience) {
        break;
      }
    }
    if (snapshot) {
      U.set(snapshot.users);
      V.set(snapshot.items);
      b.set(snapshot.bias);
    } else {
      this.bestEpoch = this.epochsRun;
    }
    hooks.onProgress?.(maxEpochs, maxEpochs, 'epochs');
  }

  score(user: number, _history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    const { dim } = this.options;
    dotScoresOne(
      this.users.subarray(user * dim, (user + 1) * dim),
      dim,
      this.items,
      candidates,
      out,
      this.bias,
    );
  }

  /** Requests that share one candidate list (full ranking) are scored together: bit-identical, faster. */
  scoreMany(requests: ScoreRequest[]): void {
    const { dim } = this.options;
    for (const group of byCandidates(requests)) {
      const queries = new Float32Array(group.length * dim);
      group.forEach((r, n) => {
        queries.set(this.users.subarray(r.user * dim, (r.user + 1) * dim), n * dim);
      });
      dotScores(
        queries,
        dim,
        this.items,
        group[0].candidates,
        group.map((r) => r.out),
        this.bias,
      );
    }
  }

  /** The item factors, [numItems × dim]. */
  itemTable(): Float32Array {
    return this.items;
  }

  describe(): Record<string, unknown> {
    return { ...this.options, epochsRun: this.epochsRun, bestEpoch: this.bestEpoch };
  }
}
