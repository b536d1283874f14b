import type { Random } from '../../core/random.ts';
import type { Checkpoint, TensorArray } from '../checkpoint.ts';
import type { NeighborTable } from '../graph/index.ts';
import { tf } from '../tf/backend.ts';
import { DenseParams } from '../tf/dense-params.ts';
import { SparseEmbedding } from '../tf/sparse-embedding.ts';
import { buildComputation, type Computation } from './computation.ts';
import { type ContentFeature, type ItemContent, spreadAverageGradient } from './content.ts';
import { inBatchMask } from './loss-mask.ts';
import { denseShapes, type GnnModel, nodeInputs } from './model.ts';
import { gatherRows, l2Normalize, matMul, poolRows } from './ops.ts';
import type { GnnOptions } from './options.ts';

/**
 * A fresh variable holding gathered table rows. tf.variable shares the initial tensor's data and leaves
 * that tensor registered, so it is disposed here (otherwise every step would leak one).
 */
function inputVariable(rows: Float32Array, dim: number): tf.Variable {
  const initial = tf.tensor2d(rows, [rows.length / dim, dim]);
  const variable = tf.variable(initial);
  initial.dispose();
  return variable;
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One training step's examples, as items. */
export interface TrainBatch {
  anchors: Int32Array;
  positives: Int32Array;
  /** [anchors.length × hardPerAnchor] hard negatives, −1 where an anchor has fewer. */
  hard: Int32Array;
  hardPerAnchor: number;
  /** Uniformly drawn items, negatives of every query of the batch. */
  shared: Int32Array;
}

/** The network forward pass on one batch's computation graph, with its inputs as tensors. */
export interface ForwardInputs {
  computation: Computation;
  /** h⁰ of `computation.levels[0]`. */
  inputs: tf.Tensor2D;
}

/**
 * The trainable GNN: embedding tables outside the tf graph (SparseEmbedding, lazy Adam on touched rows),
 * dense weights inside (DenseParams, Adam). `dispose` it when done (tf variables are not garbage-collected).
 */
export class GnnNetwork {
  readonly options: GnnOptions;
  readonly numItems: number;
  readonly content: ItemContent;
  readonly id: SparseEmbedding;
  readonly topic?: SparseEmbedding;
  readonly title?: SparseEmbedding;
  readonly params: DenseParams;
  private readonly scratch: Int32Array;

  constructor(numItems: number, content: ItemContent, options: GnnOptions, random: Random) {
    const { dim, sparseLearningRate, initStd } = options;
    this.options = options;
    this.numItems = numItems;
    this.content = content;
    const table = (rows: number) =>
      new SparseEmbedding(rows, dim, { learningRate: sparseLearningRate }).initNormal(random, initStd);
    this.id = table(numItems);
    if (content.topics) this.topic = table(content.topics.vocabulary);
    if (content.titles) this.title = table(content.titles.vocabulary);
    this.params = new DenseParams(random, options.learningRate);
    for (const [name, shape] of denseShapes(options))
      this.params.add(name, shape, shape.length === 1 ? 'zeros' : 'glorot');
    this.scratch = new Int32Array(numItems).fill(-1);
  }

  private features(): [ContentFeature, SparseEmbedding][] {
    const out: [ContentFeature, SparseEmbedding][] = [];
    if (this.content.topics && this.topic) out.push([this.content.topics, this.topic]);
    if (this.content.titles && this.title) out.push([this.content.titles, this.title]);
    return out;
  }

  private w(name: string): tf.Variable {
    return this.params.get(name);
  }

  /**
   * Embeddings of `computation.levels[L]` ([targets × dim], L2-normalised) from the node inputs of
   * `computation.levels[0]`. Differentiable with respect to `inputs` and the dense weights.
   */
  forward({ computation, inputs }: ForwardInputs): tf.Tensor2D {
    const { dim, layers } = this.options;
    const { k, levels, slots, weights } = computation;
    let h: tf.Tensor2D = inputs;
    for (let l = 0; l < layers; l++) {
      const count = levels[l + 1].length;
      const transformed = tf.relu(
        matMul(h, this.w(`Q${l}`) as tf.Tensor2D).add(this.w(`q${l}`)),
      ) as tf.Tensor2D;
      const pooled = poolRows(transformed, slots[l], weights[l], count, k);
      const self = h.slice([0, 0], [count, dim]);
      const z = tf.relu(
        matMul(tf.concat([self, pooled], 1), this.w(`W${l}`) as tf.Tensor2D).add(this.w(`w${l}`)),
      );
      h = l2Normalize(z) as tf.Tensor2D;
    }
    return l2Normalize(matMul(h, this.w('G') as tf.Tensor2D).add(this.w('g'))) as tf.Tensor2D;
  }

  /** The computation graph of `targets` at the training fan-out. */
  computation(targets: Int32Array, table: NeighborTable, k = this.options.trainNeighbors): Computation {
    return buildComputation(table, targets, this.options.layers, k, this.scratch);
  }

  /**
   * One optimisation step of the max-margin loss on `batch`; returns the loss, the mean over every
   * (query, negative) pair of ReLU(margin − cos(query, partner) + cos(query, negative)). Queries are the
   * anchors (and, with `symmetric`, the positives too, with the anchors as their partners); negatives are
   * the batch's other items (its positives, or all its items with `symmetric`), the batch's shared
   * uniformly drawn items, and the anchor's hard negatives, except items equal to the query or its partner.
   */
  trainStep(batch: TrainBatch, table: NeighborTable): number {
    const { dim, margin, symmetric } = this.options;
    const B = batch.anchors.length;
    const H = batch.hardPerAnchor;
    // Targets: every distinct item the loss touches, and each example's row among them.
    const targetRow = new Map<number, number>();
    const targets: number[] = [];
    const rowOf = (item: number) => {
      let row = targetRow.get(item);
      if (row === undefined) {
        row = targets.length;
        targetRow.set(item, row);
        targets.push(item);
      }
      return row;
    };
    const queries = symmetric ? concat(batch.anchors, batch.positives) : batch.anchors;
    const partners = symmetric ? concat(batch.positives, batch.anchors) : batch.positives;
    const candidates = concat(symmetric ? queries : batch.positives, batch.shared);
    const Q = queries.length;
    const C = candidates.length;
    const queryRows = Int32Array.from(queries, rowOf);
    const partnerRows = Int32Array.from(partners, rowOf);
    const candidateRows = Int32Array.from(candidates, rowOf);
    const hardRows = new Int32Array(B * H);
    const hardMask = new Float32Array(B * H);
    for (let i = 0; i < B * H; i++) {
      const item = batch.hard[i];
      const b = Math.floor(i / Math.max(H, 1));
      if (item < 0 || item === batch.anchors[b] || item === batch.positives[b]) continue;
      hardRows[i] = rowOf(item);
      hardMask[i] = 1;
    }
    const inBatch = inBatchMask(queries, partners, candidates);
    let pairs = inBatch.pairs;
    for (const m of hardMask) pairs += m;

    const computation = this.computation(Int32Array.from(targets), table);
    const nodes = computation.levels[0];
    // h⁰ = id row + mean topic row + mean title row, summed in JS: one input whose gradient every table shares.
    const input = inputVariable(
      nodeInputs(
        {
          options: this.options,
          content: this.content,
          id: this.id.values,
          topic: this.topic?.values,
          title: this.title?.values,
        },
        nodes,
      ),
      dim,
    );
    const dense = [...this.params.variables.values()];
    const { value, grads } = tf.variableGrads(() => {
      const embeddings = this.forward({ computation, inputs: input as tf.Tensor2D });
      const q = gatherRows(embeddings, queryRows);
      const positive = q.mul(gatherRows(embeddings, partnerRows)).sum(1, true);
      const scores = matMul(q, gatherRows(embeddings, candidateRows).transpose());
      const ranked = tf
        .relu(scores.sub(positive).add(margin))
        .mul(tf.tensor2d(inBatch.mask, [Q, C]))
        .sum();
      let total = ranked;
      if (H > 0) {
        // The anchors are the first B queries.
        const a = q.slice([0, 0], [B, dim]).reshape([B, 1, dim]);
        const n = gatherRows(embeddings, hardRows).reshape([B, H, dim]);
        const hardScores = a.mul(n).sum(2);
        const anchorPositive = positive.slice([0, 0], [B, 1]);
        const hardLoss = tf
          .relu(hardScores.sub(anchorPositive).add(margin))
          .mul(tf.tensor2d(hardMask, [B, H]));
        total = total.add(hardLoss.sum());
      }
      return total.div(Math.max(pairs, 1)) as tf.Scalar;
    }, [input, ...dense]);
    const loss = value.dataSync()[0];
    this.params.apply(grads);
    const grad = grads[input.name].dataSync() as Float32Array;
    this.id.applyGradients(nodes, grad);
    for (const [feature, embedding] of this.features()) {
      const spread = spreadAverageGradient(feature, dim, nodes, grad);
      embedding.applyGradients(spread.rows, spread.grads);
    }
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    input.dispose();
    return loss;
  }

  /** Sets the weights (not the optimizer state) from a plain model of the same shape. */
  setWeights(model: GnnModel): void {
    for (const [name, table] of this.tables()) {
      const values = model[name as 'id' | 'topic' | 'title'];
      if (!values || values.length !== table.values.length)
        throw new Error(`gnn: the model's ${name} table does not fit`);
      table.values.set(values);
    }
    for (const [name, weight] of Object.entries(model.dense)) {
      const value = tf.tensor(weight.data, weight.shape);
      this.w(name).assign(value);
      value.dispose();
    }
  }

  /** The current weights as a plain model (copies). */
  export(): GnnModel {
    const dense: GnnModel['dense'] = {};
    for (const [name, weight] of Object.entries(this.params.export()))
      dense[name] = { data: weight.data.slice(), shape: weight.shape };
    return {
      options: this.options,
      numItems: this.numItems,
      content: this.content,
      id: this.id.values.slice(),
      topic: this.topic?.values.slice(),
      title: this.title?.values.slice(),
      dense,
    };
  }

  private tables(): [string, SparseEmbedding][] {
    const out: [string, SparseEmbedding][] = [['id', this.id]];
    if (this.topic) out.push(['topic', this.topic]);
    if (this.title) out.push(['title', this.title]);
    return out;
  }

  /** Weights and optimizer state, for saveCheckpoint. */
  async snapshot(): Promise<{
    tensors: Record<string, TensorArray | { data: TensorArray; shape: number[] }>;
    steps: Record<string, number>;
  }> {
    const tensors: Record<string, TensorArray | { data: TensorArray; shape: number[] }> =
      this.params.snapshot('dense:');
    const steps: Record<string, number> = { dense: this.params.step };
    for (const [name, table] of this.tables()) {
      tensors[`table:${name}`] = table.values;
      tensors[`table:${name}:m`] = table.m;
      tensors[`table:${name}:v`] = table.v;
      steps[name] = table.step;
    }
    return { tensors, steps };
  }

  async restore(checkpoint: Checkpoint<unknown>, steps: Record<string, number>): Promise<void> {
    this.params.restore(checkpoint, 'dense:', steps.dense ?? 0);
    for (const [name, table] of this.tables()) {
      for (const [suffix, target] of [
        ['', table.values],
        [':m', table.m],
        [':v', table.v],
      ] as const) {
        const data = checkpoint.tensors.get(`table:${name}${suffix}`);
        if (!data || data.length !== target.length)
          throw new Error(`checkpoint lacks table:${name}${suffix} of ${target.length} values`);
        target.set(data);
      }
      table.step = steps[name] ?? 0;
    }
  }

  dispose(): void {
    this.params.dispose();
  }
}
