import type { ItemDtype, Metrics } from '../../core/bundle/manifest.ts';
import { evaluate } from '../../core/eval/harness.ts';
import type { Recommender } from '../../core/eval/model.ts';
import type { EvalSplit } from '../../core/eval/split.ts';
import { rankerMetricsOf } from '../../core/lab/metrics.ts';
import type { CompactEncoderShape } from '../encoder/model.ts';
import { createSession, runOnce } from '../onnx/run.ts';
import type { ActionSequence } from '../pinnerformer/sequences.ts';
import { HEADS } from '../ranker/model.ts';
import { batchOf, type RankerData } from '../ranker/train.ts';
import { encoderFeeds, rankerFeeds } from './feeds.ts';
import { countBefore } from './snapshots.ts';

/** Retrieval by dot product of fixed user vectors with an item table: how every table variant is scored. */
export class EmbeddingRecommender implements Recommender {
  readonly name: string;
  constructor(
    name: string,
    private readonly users: Float32Array,
    private readonly items: Float32Array,
    private readonly dim: number,
  ) {
    this.name = name;
  }
  async fit(): Promise<void> {}
  score(user: number, _history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    const { dim, users, items } = this;
    const base = user * dim;
    for (let c = 0; c < candidates.length; c++) {
      const row = candidates[c] * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += users[base + d] * items[row + d];
      out[c] = s;
    }
  }
}

/** HR@10 / NDCG@10 / Recall@10 of retrieval on the temporal protocol's test stage (scored once). */
export function retrievalMetrics(
  split: EvalSplit,
  users: Float32Array,
  items: Float32Array,
  dim: number,
  name: ItemDtype | string,
): Metrics {
  // History stays among the candidates here, unlike the temporal protocol's default: `edgerec lab`
  // replays these metrics from eval packs that carry no user history yet, and both must measure the same.
  const { metrics } = evaluate(new EmbeddingRecommender(name, users, items, dim), split, 'test', {
    ks: [10, 20],
    excludeHistory: false,
  });
  const keep = ['HR@10', 'NDCG@10', 'Recall@10', 'Recall@20', 'NDCG@20'];
  return Object.fromEntries(keep.filter((k) => k in metrics).map((k) => [k, metrics[k]]));
}

/**
 * Runs a ranker variant over a window's examples with onnxruntime-node; probabilities [size × 4].
 * `withSequence`: an early-fusion variant, fed each example's session sequence too.
 */
export async function rankerProbabilities(
  model: Uint8Array,
  data: RankerData,
  withSequence = false,
  chunk = 4096,
): Promise<Float32Array> {
  const session = await createSession(model);
  try {
    const out = new Float32Array(data.examples.size * HEADS);
    for (let start = 0; start < data.examples.size; start += chunk) {
      const indices = Int32Array.from(
        { length: Math.min(chunk, data.examples.size - start) },
        (_, i) => start + i,
      );
      const feeds = rankerFeeds(batchOf(data, indices, withSequence), data.dim);
      const result = await runOnce(session, feeds, ['probs']);
      out.set(result.probs as Float32Array, start * HEADS);
    }
    return out;
  } finally {
    await session.release();
  }
}

/** AUC per head, and utility NDCG@10 of each session's impressions ordered by predicted utility. */
export function rankerMetrics(probs: Float32Array, data: RankerData): Metrics {
  // The lab computes the same metrics in the browser: one implementation for both.
  return rankerMetricsOf(probs, data.examples.labels, data.examples.session);
}

/** Every user's real-time embedding from an encoder variant over their actions before `time`. */
export async function encoderUsers(
  model: Uint8Array,
  shape: CompactEncoderShape,
  sequences: ActionSequence[],
  time: number,
  items: Float32Array,
  chunk = 1024,
): Promise<Float32Array> {
  const session = await createSession(model);
  try {
    const out = new Float32Array(sequences.length * shape.itemDim);
    for (let start = 0; start < sequences.length; start += chunk) {
      const windows = sequences.slice(start, start + chunk).map((s) => ({
        items: s.items,
        actions: s.actions,
        ts: s.ts,
        end: countBefore(s.ts, time),
      }));
      const result = await runOnce(session, encoderFeeds(windows, shape, items), ['user']);
      out.set(result.user as Float32Array, start * shape.itemDim);
    }
    return out;
  } finally {
    await session.release();
  }
}
