import type { ModelEntry } from '../bundle/index.ts';
import { type ActionWindow, encoderInput, type RowWriter } from '../sequence/index.ts';

/** Named input tensors of a model run (the shape onnxruntime's feeds take). */
export type Feeds = Record<string, { data: Float32Array; dims: number[] }>;

/**
 * The early-fusion ranker's `seq_*` feeds: the user's newest actions (src/core/sequence's layout, the
 * one training used), repeated for each of `size` candidates. A late-fused ranker has no such inputs:
 * nothing is added.
 */
export function sequenceFeeds(
  entry: ModelEntry,
  window: ActionWindow,
  size: number,
  dim: number,
  rowOf: RowWriter,
): Feeds {
  const spec = entry.inputs.find((input) => input.name === 'seq_items');
  if (!spec) return {};
  const length = Number(spec.shape[1]);
  const one = encoderInput([window], length, dim, rowOf);
  const repeat = (values: Float32Array, inner: number[]) => {
    const out = new Float32Array(size * values.length);
    for (let c = 0; c < size; c++) out.set(values, c * values.length);
    return { data: out, dims: [size, length, ...inner] };
  };
  return {
    seq_items: repeat(one.items, [dim]),
    seq_actions: repeat(one.actions, [one.actions.length / length]),
    seq_time: repeat(one.time, [one.time.length / length]),
    seq_mask: repeat(one.mask, []),
  };
}
