import type { Recommender, TrainingData } from '../../core/eval/model.ts';

/** Ranks items by how many users engaged with them in training: the floor every model must clear. */
export class PopularityRecommender implements Recommender {
  readonly name = 'pop';
  private counts = new Float32Array(0);

  async fit(data: TrainingData): Promise<void> {
    this.counts = new Float32Array(data.numItems);
    for (const item of data.train.items) this.counts[item]++;
  }

  score(_user: number, _history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    for (let c = 0; c < candidates.length; c++) out[c] = this.counts[candidates[c]];
  }

  /** Training counts per item, for models that back off to popularity. */
  itemCounts(): Float32Array {
    return this.counts;
  }
}
