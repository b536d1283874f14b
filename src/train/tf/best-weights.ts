import { tf } from './backend.ts';
import type { DenseParams } from './dense-params.ts';

/**
 * Early stopping on a validation score: keeps a copy of the weights of the best epoch so far, says when
 * `patience` epochs have passed without a better one, and puts the best weights back at the end.
 */
export class BestWeights {
  score = Number.NEGATIVE_INFINITY;
  epoch = -1;
  private sinceBest = 0;
  private weights?: Record<string, Float32Array>;

  constructor(
    private readonly params: DenseParams,
    private readonly patience: number,
  ) {}

  /** Records an epoch's validation score (higher is better); true when training should stop. */
  update(epoch: number, score: number): boolean {
    if (score > this.score) {
      this.score = score;
      this.epoch = epoch;
      this.sinceBest = 0;
      this.weights = Object.fromEntries(
        Object.entries(this.params.export()).map(([name, v]) => [name, v.data.slice()]),
      );
      return false;
    }
    return ++this.sinceBest >= this.patience;
  }

  /** Assigns the best epoch's weights (no-op before the first update). */
  restore(): void {
    if (!this.weights) return;
    for (const [name, v] of this.params.variables) v.assign(tf.tensor(this.weights[name], v.shape));
  }
}
