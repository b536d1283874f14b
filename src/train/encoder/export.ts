import type { TensorSpec } from '../../core/bundle/manifest.ts';
import { ACTION_TYPES, TIME_FEATURES } from '../../core/sequence/index.ts';
import { GraphBuilder } from '../onnx/index.ts';
import { type CompactEncoder, LAYER_NORM_EPSILON } from './model.ts';

export function encoderIo(length: number, itemDim: number): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  return {
    inputs: [
      {
        name: 'items',
        dtype: 'float32',
        shape: ['batch', length, itemDim],
        description: 'item-table rows of the newest actions, oldest first, left-padded with zeros',
      },
      {
        name: 'actions',
        dtype: 'float32',
        shape: ['batch', length, ACTION_TYPES],
        description: 'one-hot action codes (impression, click, closeup, save, hide)',
      },
      {
        name: 'time',
        dtype: 'float32',
        shape: ['batch', length, TIME_FEATURES],
        description: "PinnerFormer's time features (src/core/sequence/time-features.ts)",
      },
      {
        name: 'mask',
        dtype: 'float32',
        shape: ['batch', length],
        description: '1 on real actions, 0 on padding',
      },
    ],
    outputs: [
      {
        name: 'user',
        dtype: 'float32',
        shape: ['batch', itemDim],
        description: 'L2-normalised real-time user embedding in the item-table space',
      },
    ],
  };
}

/** Writes the compact encoder as an fp32 ONNX graph; each node mirrors CompactEncoder.forward. */
export function exportEncoder(encoder: CompactEncoder, name: string): Uint8Array {
  const { dim: D, heads: H, length: L, itemDim } = encoder.shape;
  const dh = D / H;
  const weights = encoder.params.export();
  const w = (key: string) => weights[key].data;
  const g = new GraphBuilder(name);
  const ints = (name: string, values: number[]) =>
    g.constant(name, BigInt64Array.from(values, BigInt), [values.length]);
  const items = g.input('items', 'float32', ['batch', L, itemDim]);
  const actions = g.input('actions', 'float32', ['batch', L, ACTION_TYPES]);
  const time = g.input('time', 'float32', ['batch', L, TIME_FEATURES]);
  const mask = g.input('mask', 'float32', ['batch', L]);

  let x = g.dense(items, w('itemIn'), undefined, itemDim, D, 'item_in');
  x = g.op('Add', [x, g.dense(actions, w('action'), undefined, ACTION_TYPES, D, 'action_in')]);
  x = g.op('Add', [x, g.dense(time, w('time'), undefined, TIME_FEATURES, D, 'time_in')]);
  x = g.op('Add', [x, g.constant('position', w('position'), [L, D])]);
  x = g.op('Mul', [x, g.op('Unsqueeze', [mask, ints('axis2', [2])])]);
  const h = g.layerNorm(x, w('ln1g'), w('ln1b'), LAYER_NORM_EPSILON, 'ln1');
  const last = (t: string) =>
    g.op('Slice', [t, ints('last_start', [L - 1]), ints('last_end', [L]), ints('axis1', [1])]);
  const heads = (t: string, rows: number, perm: number[]) =>
    g.op('Transpose', [g.op('Reshape', [t, ints(`shape_${rows}`, [-1, rows, H, dh])])], { perm });
  const q = heads(g.dense(last(h), w('wq'), undefined, D, D, 'q'), 1, [0, 2, 1, 3]);
  const k = heads(g.dense(h, w('wk'), undefined, D, D, 'k'), L, [0, 2, 3, 1]);
  const v = heads(g.dense(h, w('wv'), undefined, D, D, 'v'), L, [0, 2, 1, 3]);
  const bias = g.op('Reshape', [
    g.op('Mul', [g.op('Sub', [mask, g.scalar(1)]), g.scalar(1e9)]),
    ints('bias_shape', [-1, 1, 1, L]),
  ]);
  const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, k]), g.scalar(1 / Math.sqrt(dh))]), bias]);
  const attended = g.op('Reshape', [
    g.op('Transpose', [g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v])], { perm: [0, 2, 1, 3] }),
    ints('flat', [-1, D]),
  ]);
  const xLast = g.op('Reshape', [last(x), ints('flat_x', [-1, D])]);
  const y = g.op('Add', [xLast, g.dense(attended, w('wo'), undefined, D, D, 'o')]);
  const h2 = g.layerNorm(y, w('ln2g'), w('ln2b'), LAYER_NORM_EPSILON, 'ln2');
  const ff = g.dense(
    g.op('Relu', [g.dense(h2, w('ff1w'), w('ff1b'), D, 2 * D, 'ff1')]),
    w('ff2w'),
    w('ff2b'),
    2 * D,
    D,
    'ff2',
  );
  const z = g.layerNorm(g.op('Add', [y, ff]), w('lnfg'), w('lnfb'), LAYER_NORM_EPSILON, 'lnf');
  const out = g.dense(z, w('outw'), w('outb'), D, itemDim, 'out');
  const norm = g.op('Sqrt', [
    g.op('Add', [
      g.op('ReduceSum', [g.op('Mul', [out, out]), ints('axis_1', [1])], { keepdims: 1 }),
      g.scalar(1e-12),
    ]),
  ]);
  g.output(g.op('Div', [out, norm]), 'user', 'float32', ['batch', itemDim]);
  return g.toBytes({ producer: 'edgerec', docString: `edgerec compact user encoder (${name})` });
}
