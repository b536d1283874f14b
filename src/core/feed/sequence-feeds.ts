import type { ModelEntry } from '../bundle/index.ts';
import { type ActionWindow, encoderInput, type RowWriter } from '../sequence/index.ts';
import { slabF32 } from '../typed-slab.ts';

/** Named input tensors of a model run (the shape onnxruntime's feeds take). */
export type Feeds = Record<string, { data: Float32Array; dims: number[] }>;

/** Where a feed's array of `length` floats comes from; every element is overwritten. */
export type FeedAllocator = (name: string, length: number) => Float32Array;

const fresh: FeedAllocator = (_name, length) => new Float32Array(length);

/**
 * The early-fusion ranker's `seq_*` feeds: the user's newest actions (src/core/sequence's layout, the
 * one training used). A graph whose sequence inputs are per user ('users') gets them once, and
 * broadcasts them over the `size` candidates; one that declares them per candidate ('batch', as
 * bundles before 2026-12-07 and some lab uploads do) gets them repeated `size` times. A late-fused
 * ranker has no such inputs: nothing is added. `allocate` may hand out reused arrays for the repeats.
 */
export function sequenceFeeds(
  entry: ModelEntry,
  window: ActionWindow,
  size: number,
  dim: number,
  rowOf: RowWriter,
  allocate: FeedAllocator = fresh,
): Feeds {
  const spec = entry.inputs.find((input) => input.name === 'seq_items');
  if (!spec) return {};
  const length = Number(spec.shape[1]);
  const one = encoderInput([window], length, dim, rowOf, slabF32);
  const rows = spec.shape[0] === 'users' ? 1 : size;
  const repeat = (name: string, values: Float32Array, inner: number[]) => {
    const dims = [rows, length, ...inner];
    if (rows === 1) return { data: values, dims };
    const out = allocate(name, rows * values.length);
    for (let c = 0; c < rows; c++) out.set(values, c * values.length);
    return { data: out, dims };
  };
  return {
    seq_items: repeat('seq_items', one.items, [dim]),
    seq_actions: repeat('seq_actions', one.actions, [one.actions.length / length]),
    seq_time: repeat('seq_time', one.time, [one.time.length / length]),
    seq_mask: repeat('seq_mask', one.mask, []),
  };
}
