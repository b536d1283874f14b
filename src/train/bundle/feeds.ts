import { CONTEXT_DIM } from '../../core/ranking/index.ts';
import { type ActionWindow, encoderInput, tableRows } from '../../core/sequence/index.ts';
import type { CompactEncoderShape } from '../encoder/model.ts';
import type { Feeds } from '../onnx/index.ts';
import type { RankerBatch } from '../ranker/model.ts';

/** ONNX feeds of a ranker batch (the names of ranker/export.ts); its sequence only where it has one. */
export function rankerFeeds(batch: RankerBatch, dim: number): Feeds {
  const feeds: Feeds = {
    user_long: { data: batch.userLong, dims: [batch.size, dim] },
    user_short: { data: batch.userShort, dims: [batch.size, dim] },
    item: { data: batch.item, dims: [batch.size, dim] },
    context: { data: batch.context, dims: [batch.size, CONTEXT_DIM] },
  };
  const seq = batch.sequence;
  if (seq) {
    const length = seq.mask.length / batch.size;
    const dims = (values: Float32Array) => [batch.size, length, values.length / (batch.size * length)];
    feeds.seq_items = { data: seq.items, dims: dims(seq.items) };
    feeds.seq_actions = { data: seq.actions, dims: dims(seq.actions) };
    feeds.seq_time = { data: seq.time, dims: dims(seq.time) };
    feeds.seq_mask = { data: seq.mask, dims: [batch.size, length] };
  }
  return feeds;
}

/** ONNX feeds of the compact encoder for some windows (the names of encoder/export.ts). */
export function encoderFeeds(
  windows: ActionWindow[],
  shape: CompactEncoderShape,
  items: Float32Array,
): Feeds {
  const input = encoderInput(windows, shape.length, shape.itemDim, tableRows(items, shape.itemDim));
  const { size, length, itemDim } = { ...input, itemDim: shape.itemDim };
  return {
    items: { data: input.items, dims: [size, length, itemDim] },
    actions: { data: input.actions, dims: [size, length, input.actions.length / (size * length)] },
    time: { data: input.time, dims: [size, length, input.time.length / (size * length)] },
    mask: { data: input.mask, dims: [size, length] },
  };
}
