import type { TensorSpec } from '../../core/bundle/manifest.ts';
import { CONTEXT_DIM } from '../../core/ranking/index.ts';
import { GraphBuilder } from '../onnx/index.ts';
import { HEADS, type RankerModel } from './model.ts';

/** The ranker's ONNX interface: fixed names, a dynamic batch (one row per candidate). */
export function rankerIo(dim: number): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
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
  let x = g.op(
    'Concat',
    [userLong, userShort, item, g.op('Mul', [userLong, item]), g.op('Mul', [userShort, item]), scaled],
    { axis: 1 },
  );
  let width = 5 * d + CONTEXT_DIM;
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
