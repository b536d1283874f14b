import type { TensorSpec } from '../../core/bundle/manifest.ts';
import { CONTEXT_DIM } from '../../core/ranking/index.ts';
import { ACTION_TYPES, TIME_FEATURES } from '../../core/sequence/index.ts';
import { GraphBuilder } from '../onnx/index.ts';
import { MASKED_SCORE } from './attention.ts';
import { HEADS, type RankerModel, type SequenceShape, tokenWidth } from './model.ts';

/**
 * The early-fusion ranker's extra inputs: the user's newest actions, as the compact encoder reads them.
 * Their first dimension is 'users': the engine feeds its one user's actions once (1 broadcasts over the
 * candidates, so the graph projects them once, not once per candidate); training feeds one per row.
 */
function sequenceIo(dim: number, length: number): TensorSpec[] {
  return [
    {
      name: 'seq_items',
      dtype: 'float32',
      shape: ['users', length, dim],
      description:
        "item-table rows of the user's newest actions, oldest first, left-padded; 1 row broadcasts over every candidate",
    },
    {
      name: 'seq_actions',
      dtype: 'float32',
      shape: ['users', length, ACTION_TYPES],
      description: 'one-hot action codes (impression, click, closeup, save, hide) of those actions',
    },
    {
      name: 'seq_time',
      dtype: 'float32',
      shape: ['users', length, TIME_FEATURES],
      description: "PinnerFormer's time features of those actions (src/core/sequence/time-features.ts)",
    },
    {
      name: 'seq_mask',
      dtype: 'float32',
      shape: ['users', length],
      description: '1 on real actions, 0 on padding',
    },
  ];
}

/**
 * The ranker's ONNX interface: fixed names, a dynamic batch (one row per candidate); an early-fusion
 * ranker (`sequence`) also takes the user's newest actions.
 */
export function rankerIo(
  dim: number,
  sequence?: SequenceShape,
): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  return {
    inputs: [
      {
        name: 'user_long',
        dtype: 'float32',
        shape: ['batch', dim],
        description: "the server's long-term user embedding (PinnerFormer), repeated per candidate",
      },
      {
        name: 'user_short',
        dtype: 'float32',
        shape: ['batch', dim],
        description: 'the real-time user embedding from the compact encoder, repeated per candidate',
      },
      {
        name: 'item',
        dtype: 'float32',
        shape: ['batch', dim],
        description: "the candidate's item-table row",
      },
      {
        name: 'context',
        dtype: 'float32',
        shape: ['batch', CONTEXT_DIM],
        description: 'context features (manifest.context names them), unscaled',
      },
      ...(sequence ? sequenceIo(dim, sequence.length) : []),
    ],
    outputs: [
      {
        name: 'logits',
        dtype: 'float32',
        shape: ['batch', HEADS],
        description: 'per-head logits, columns in `heads` order',
      },
      {
        name: 'probs',
        dtype: 'float32',
        shape: ['batch', HEADS],
        description: 'per-head probabilities (sigmoid of logits)',
      },
    ],
  };
}

/** Writes the ranker as an fp32 ONNX graph whose every node mirrors RankerModel.forward. */
export function exportRanker(model: RankerModel, name: string): Uint8Array {
  const d = model.shape.embeddingDim;
  const weights = model.params.export();
  const w = (key: string) => weights[key].data;
  const g = new GraphBuilder(name);
  const userLong = g.input('user_long', 'float32', ['batch', d]);
  const userShort = g.input('user_short', 'float32', ['batch', d]);
  const item = g.input('item', 'float32', ['batch', d]);
  const context = g.input('context', 'float32', ['batch', CONTEXT_DIM]);
  const mean = g.constant('context_mean', model.contextMean, [CONTEXT_DIM]);
  const std = g.constant('context_std', model.contextStd, [CONTEXT_DIM]);
  const scaled = g.op('Div', [g.op('Sub', [context, mean]), std]);
  const parts = [
    userLong,
    userShort,
    item,
    g.op('Mul', [userLong, item]),
    g.op('Mul', [userShort, item]),
    scaled,
  ];
  let width = 5 * d + CONTEXT_DIM;
  if (model.shape.sequence) {
    parts.push(exportAttention(g, model.shape.sequence, d, item, w));
    width += model.shape.sequence.width;
  }
  let x = g.op('Concat', parts, { axis: 1 });
  model.shape.hidden.forEach((h, l) => {
    x = g.op('Relu', [g.dense(x, w(`w${l}`), w(`b${l}`), width, h, `tower${l}`)]);
    width = h;
  });
  const logits: string[] = [];
  for (let h = 0; h < HEADS; h++) {
    let y = x;
    let inWidth = width;
    if (model.shape.headHidden > 0) {
      y = g.op('Relu', [
        g.dense(y, w(`head${h}w0`), w(`head${h}b0`), width, model.shape.headHidden, `head${h}_hidden`),
      ]);
      inWidth = model.shape.headHidden;
    }
    logits.push(g.dense(y, w(`head${h}w`), w(`head${h}b`), inWidth, 1, `head${h}`));
  }
  const allLogits = g.op('Concat', logits, { axis: 1 });
  g.output(allLogits, 'logits', 'float32', ['batch', HEADS]);
  g.output(g.op('Sigmoid', [allLogits]), 'probs', 'float32', ['batch', HEADS]);
  return g.toBytes({ producer: 'edgerec', docString: `edgerec multi-head ranker (${name})` });
}

/** ranker/attention.ts's targetAttention with model.ts's projections, node for node. */
function exportAttention(
  g: GraphBuilder,
  shape: SequenceShape,
  d: number,
  item: string,
  w: (key: string) => Float32Array,
): string {
  const { length: L, width: a } = shape;
  const ints = (name: string, values: number[]) =>
    g.constant(name, BigInt64Array.from(values, BigInt), [values.length]);
  const tokens = g.op(
    'Concat',
    [
      g.input('seq_items', 'float32', ['users', L, d]),
      g.input('seq_actions', 'float32', ['users', L, ACTION_TYPES]),
      g.input('seq_time', 'float32', ['users', L, TIME_FEATURES]),
    ],
    { axis: 2 },
  );
  const mask = g.input('seq_mask', 'float32', ['users', L]);
  const query = g.dense(item, w('attq'), undefined, d, a, 'att_q');
  const keys = g.dense(tokens, w('attk'), undefined, tokenWidth(d), a, 'att_k');
  const values = g.dense(tokens, w('attv'), undefined, tokenWidth(d), a, 'att_v');
  const dots = g.op(
    'ReduceSum',
    [g.op('Mul', [g.op('Unsqueeze', [query, ints('att_axis1', [1])]), keys]), ints('att_axis2', [2])],
    {
      keepdims: 0,
    },
  );
  const bias = g.op('Mul', [g.op('Sub', [mask, g.scalar(1)]), g.scalar(-MASKED_SCORE)]);
  const scores = g.op('Add', [g.op('Mul', [dots, g.scalar(1 / Math.sqrt(a))]), bias]);
  const weights = g.op('Softmax', [scores], { axis: -1 });
  return g.op(
    'ReduceSum',
    [
      g.op('Mul', [g.op('Unsqueeze', [weights, ints('att_axis2_w', [2])]), values]),
      ints('att_axis1_sum', [1]),
    ],
    { keepdims: 0 },
  );
}
