import type { DecodedItemTable, ModelEntry } from '../bundle/index.ts';
import { type FeedRunners, sequenceFeeds } from '../feed/index.ts';
import { referenceTopK, writeItemRow } from '../retrieval/index.ts';
import { encoderInput } from '../sequence/index.ts';

/** One ONNX model run: float32 feeds in, one float32 output out (onnxruntime-node or -web). */
export type RunModel = (
  feeds: Record<string, { data: Float32Array; dims: number[] }>,
  output: string,
) => Promise<Float32Array>;

/**
 * The replay's runners: the bundle's encoder and ranker through `RunModel` (the runtime's part) and the
 * exact CPU scan for retrieval — the same in Node (`edgerec replay`) and in the lab's worker.
 */
export function replayRunners(
  table: DecodedItemTable,
  encoderEntry: ModelEntry,
  rankerEntry: ModelEntry,
  encoder: RunModel,
  ranker: RunModel,
): FeedRunners {
  const length = Number(encoderEntry.inputs.find((i) => i.name === 'items')?.shape[1]);
  const dim = table.dim;
  const row = (item: number, out: Float32Array, offset: number) => writeItemRow(table, item, out, offset);
  return {
    encode(window) {
      const input = encoderInput([window], length, dim, row);
      return encoder(
        {
          items: { data: input.items, dims: [1, length, dim] },
          actions: { data: input.actions, dims: [1, length, input.actions.length / length] },
          time: { data: input.time, dims: [1, length, input.time.length / length] },
          mask: { data: input.mask, dims: [1, length] },
        },
        'user',
      );
    },
    async retrieve(queries, n, exclude) {
      return queries.map((q) => referenceTopK(table, q, n, exclude).indices);
    },
    rank(inputs) {
      const { size, dim: d } = inputs;
      return ranker(
        {
          user_long: { data: inputs.userLong, dims: [size, d] },
          user_short: { data: inputs.userShort, dims: [size, d] },
          item: { data: inputs.item, dims: [size, d] },
          context: { data: inputs.context, dims: [size, inputs.context.length / size] },
          ...sequenceFeeds(rankerEntry, inputs.window, size, d, row),
        },
        'probs',
      );
    },
  };
}
