import type { FitHooks, Recommender, TrainingData } from '../../core/eval/model.ts';
import { userItemsOf } from '../../core/interactions.ts';
import { topK } from '../../core/topk.ts';

export interface ItemKnnOptions {
  /** Neighbours kept per item. */
  neighbors: number;
  /** Most recent history items that vote. */
  historyLength: number;
  /** Weight of a history item `age` steps back is decay^age; chosen on validation from `decays`. */
  decays: number[];
}

const DEFAULTS: ItemKnnOptions = {
  // Chosen on the validation stage only (sasrec protocol, NDCG@10, seed 0) with
  // `edgerec tune --model itemknn --grid tune/itemknn.json` (neighbours {50, 100, 200, 400} x decay {1, 0.8,
  // 0.5}; tables in notes/tune.md): 400 neighbours won on both data sets (ml-100k 0.4025 vs 0.3912 at 200;
  // synthetic 0.4022 vs 0.3923). The best decay differs (0.5 on ml-100k, 0.8 on synthetic), so fit keeps
  // choosing it per data set on validation.
  neighbors: 400,
  historyLength: 50,
  decays: [1, 0.8, 0.5],
};

/**
 * Item-item co-occurrence kNN: cosine similarity of items over the users who engaged with both,
 * top-N neighbours per item, scored as the recency-weighted sum of similarities to the user's history.
 */
export class ItemKnnRecommender implements Recommender {
  readonly name = 'itemknn';
  private readonly options: ItemKnnOptions;
  private neighborOffsets = new Int32Array(1);
  private neighborItems = new Int32Array(0);
  private neighborWeights = new Float32Array(0);
  private popularityPrior = new Float32Array(0);
  private decay = 1;
  private scratch = new Float32Array(0);

  constructor(options: Partial<ItemKnnOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  async fit(data: TrainingData, hooks: FitHooks = {}): Promise<void> {
    const { numItems, numUsers, train } = data;
    const itemUserOffsets = new Int32Array(numItems + 1);
    for (const item of train.items) itemUserOffsets[item + 1]++;
    for (let i = 0; i < numItems; i++) itemUserOffsets[i + 1] += itemUserOffsets[i];
    const itemUsers = new Int32Array(train.items.length);
    const cursor = itemUserOffsets.slice(0, numItems);
    for (let u = 0; u < numUsers; u++)
      for (const item of userItemsOf(train, u)) itemUsers[cursor[item]++] = u;
    const degree = (i: number) => itemUserOffsets[i + 1] - itemUserOffsets[i];

    const co = new Float32Array(numItems);
    const touched: number[] = [];
    const offsets = new Int32Array(numItems + 1);
    const items: number[] = [];
    const weights: number[] = [];
    // A loop, not Math.max(...spread): spreading one argument per item overflows the stack past ~120k items.
    let maxDegree = 1;
    for (let i = 0; i < numItems; i++) maxDegree = Math.max(maxDegree, degree(i));
    for (let i = 0; i < numItems; i++) {
      for (let k = itemUserOffsets[i]; k < itemUserOffsets[i + 1]; k++) {
        for (const j of userItemsOf(train, itemUsers[k])) {
          if (j === i) continue;
          if (co[j] === 0) touched.push(j);
          co[j]++;
        }
      }
      for (const j of touched) co[j] /= Math.sqrt(degree(i) * degree(j));
      const candidates = Int32Array.from(touched);
      const local = new Float32Array(candidates.length);
      for (let c = 0; c < candidates.length; c++) local[c] = co[candidates[c]];
      for (const c of topK(local, this.options.neighbors)) {
        items.push(candidates[c]);
        weights.push(local[c]);
      }
      offsets[i + 1] = items.length;
      for (const j of touched) co[j] = 0;
      touched.length = 0;
      if ((i & 0x3ff) === 0) hooks.onProgress?.(i, numItems, 'similarities');
    }
    this.neighborOffsets = offsets;
    this.neighborItems = Int32Array.from(items);
    this.neighborWeights = Float32Array.from(weights);
    // A tiny popularity prior breaks ties among items no history item points to.
    this.popularityPrior = new Float32Array(numItems);
    for (let i = 0; i < numItems; i++)
      this.popularityPrior[i] = (1e-4 * Math.log1p(degree(i))) / Math.log1p(maxDegree);
    this.scratch = new Float32Array(numItems);

    if (hooks.validate && this.options.decays.length > 1) {
      let best = Number.NEGATIVE_INFINITY;
      let bestDecay = this.options.decays[0];
      for (const decay of this.options.decays) {
        this.decay = decay;
        const value = hooks.validate();
        if (value > best) {
          best = value;
          bestDecay = decay;
        }
      }
      this.decay = bestDecay;
    } else {
      this.decay = this.options.decays[0];
    }
    hooks.onProgress?.(numItems, numItems, 'similarities');
  }

  score(_user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    const votes = this.scratch;
    const start = Math.max(0, history.length - this.options.historyLength);
    const touched: number[] = [];
    let weight = 1;
    for (let h = history.length - 1; h >= start; h--) {
      const item = history[h];
      for (let k = this.neighborOffsets[item]; k < this.neighborOffsets[item + 1]; k++) {
        const j = this.neighborItems[k];
        if (votes[j] === 0) touched.push(j);
        votes[j] += weight * this.neighborWeights[k];
      }
      weight *= this.decay;
    }
    for (let c = 0; c < candidates.length; c++) {
      const item = candidates[c];
      out[c] = votes[item] + this.popularityPrior[item];
    }
    for (const j of touched) votes[j] = 0;
  }

  /** Related items: cosine co-engagement with `item` over its kept neighbours, the popularity prior elsewhere. */
  itemScores(item: number, out: Float32Array): void {
    out.set(this.popularityPrior);
    for (let k = this.neighborOffsets[item]; k < this.neighborOffsets[item + 1]; k++) {
      out[this.neighborItems[k]] += this.neighborWeights[k];
    }
  }

  describe(): Record<string, unknown> {
    return { ...this.options, decay: this.decay };
  }
}
