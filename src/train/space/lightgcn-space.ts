import { foldInUser } from '../lightgcn/propagation.ts';
import type { ActionSequence } from '../pinnerformer/sequences.ts';
import type { UserSpace } from './retrieval-space.ts';

/**
 * LightGCN's space for users outside its graph: a user's embedding is the (L2-normalised) fold-in of the distinct items
 * they engaged with (`Propagation.foldIn`) among their newest `maxLength` actions, so any history — the
 * server's store, a device's window, a cut-off in training — embeds without retraining. Order and time
 * play no part within that window.
 */
export class LightGcnSpace implements UserSpace {
  readonly model = 'lightgcn';
  /**
   * Order plays no part, but a bound keeps the server's reads finite: the newest 1,024 actions (training
   * applies the same cut, so both embed a history alike).
   */
  readonly maxLength = 1024;
  readonly hasTimestamps = false;

  constructor(
    readonly items: Float32Array,
    private readonly foldIn: Float32Array,
    readonly dim: number,
  ) {
    if (items.length !== foldIn.length || items.length % dim !== 0)
      throw new RangeError(
        `LightGCN tables disagree: ${items.length} and ${foldIn.length} values, dim ${dim}`,
      );
  }

  embedSequences(sequences: ActionSequence[]): Float32Array {
    const { dim } = this;
    const out = new Float32Array(sequences.length * dim);
    const row = new Float32Array(dim);
    sequences.forEach((s, n) => {
      const engaged: number[] = [];
      for (let k = Math.max(0, s.items.length - this.maxLength); k < s.items.length; k++)
        if (s.positive[k]) engaged.push(s.items[k]);
      foldInUser(this.foldIn, dim, engaged, row);
      // Unit length, as PinnerFormer's: a user's top-k depends on the direction only, and the encoder's
      // distillation (a cosine) and the engine's blend of server and device embeddings expect unit vectors.
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += row[d] * row[d];
      const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let d = 0; d < dim; d++) out[n * dim + d] = row[d] * scale;
    });
    return out;
  }
}
