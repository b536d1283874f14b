import { constantInitializers, type NameSpace, nodesOf } from './graph-edit.ts';
import type { Int8Targets, Range } from './int8-targets.ts';
import {
  attributeInt,
  DataType,
  elementCount,
  float32Tensor,
  onnx,
  readFloat32,
  tensorDims,
} from './proto.ts';

/*
 * SmoothQuant (Xiao et al., "SmoothQuant: Accurate and Efficient Post-Training Quantization for Large Language
 * Models", ICML 2023) for the static `qdq` form.
 *
 * Why: `qdq` quantizes each activation A entering a MatMul/Gemm to uint8 with ONE scale for the whole tensor,
 * so the channel with the widest range sets the step for every channel. Our ranker's first layer reads
 * Concat[user_long, user_short, item, user_long⊙item, user_short⊙item, standardised context]: the embedding
 * products span ~±0.01 while the standardised context spans ~±3, so with a step of ~6/255 ≈ 0.024 the product
 * channels — the features the ranker most depends on — round to a handful of levels or to zero. That cost
 * 0.006–0.016 test AUC per head, while the weight-only `dq` form (float activations) stayed within 0.0004.
 *
 * What: A·W = (A·diag(1/s))·(diag(s)·W) exactly, for any positive per-input-channel s. Choosing
 *   s_k = max|A_k|^α / max|W_k,:|^(1−α)
 * moves part of each channel's range from the activation (quantized per tensor, where outliers hurt every
 * channel) into row k of the weight (quantized per output channel, where it is spread across all rows of a
 * column): after smoothing, max|A_k/s_k| = max|s_k·W_k,:| = (max|A_k|·max|W_k,:|)^½ at α = ½, so the channel
 * ranges of A/s are the square roots of the contributions they make, far more even than those of A.
 * α = 1 flattens the activation entirely and pushes its whole spread into W; α = 0 does the reverse.
 *
 * How: the per-channel max|A_k| comes from the same calibration pass as the per-tensor ranges (per-channel
 * min/max over the last axis), so the range of A/s needs no second pass. Rows of W are scaled before the
 * per-channel int8 weight quantization. 1/s is folded into A's producer where that is exact and free (a
 * Relu/Add chain back to a constant-weight MatMul/Gemm, LayerNormalization, or a Mul/Div by a constant,
 * whose per-output-channel constants absorb it); otherwise a float `Mul(A, 1/s)` goes before the
 * QuantizeLinear. Either way the graph stays Q → DQ → MatMul ← DQ(int8 W), the pattern ORT's CPU/wasm EPs
 * fuse into integer kernels (onnxruntime-node turns the ranker's into the same QGemms with or without it).
 *
 * Measured on the ranker (test AUC per head vs fp32): the worst head goes from −0.016 to −0.002, and α from
 * 0.1 to 1 all land within 0.001 of that. What is left is the context block itself: item_log_age_days puts
 * 1% of rows at −5.5σ and the rest within [0, 0.5], so 8 bits over its own range are coarse for the bulk;
 * no per-channel scaling changes a channel's own range. Percentile calibration (clipping at the 99.99th or
 * 99.9th percentile) made every head worse, since the clipped tails carry signal, so ranges stay min/max.
 */

/** Per-channel min and max of an activation over the calibration feeds (one channel: a per-tensor range). */
export interface ChannelRanges {
  min: Float32Array;
  max: Float32Array;
}

export interface SmoothOptions {
  /** Migration strength α in [0, 1]: how much of each channel's spread moves from A into W (1: all of it). */
  alpha?: number;
}

export const DEFAULT_SMOOTH_ALPHA = 0.5;

/** Smoothing factors are kept within [1/S_LIMIT, S_LIMIT], away from overflow and denormals. */
const S_LIMIT = 1e4;

/** The per-tensor range of A/s from A's per-channel ranges (s = 1 when absent). */
export function reduceRange({ min, max }: ChannelRanges, s?: Float32Array): Range {
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < min.length; k++) {
    const f = s ? s[k] : 1;
    lo = Math.min(lo, min[k] / f);
    hi = Math.max(hi, max[k] / f);
  }
  return lo > hi ? { min: 0, max: 0 } : { min: lo, max: hi };
}

/** The quantized consumers of one activation and the weights they read, all to be scaled by the same s. */
interface SmoothGroup {
  activation: string;
  channels: number;
  /** weight name → the axis of the weight that runs over A's channels (0 for MatMul and Gemm without transB). */
  weights: Map<string, number>;
}

function usesOf(graph: onnx.GraphProto): Map<string, number> {
  const uses = new Map<string, number>();
  for (const node of nodesOf(graph)) for (const name of node.input) uses.set(name, (uses.get(name) ?? 0) + 1);
  for (const output of graph.output) {
    const name = output.name ?? '';
    uses.set(name, (uses.get(name) ?? 0) + 1);
  }
  return uses;
}

/**
 * The activations that can be smoothed, with the channel count of their last axis: every quantized consumer
 * reads A as [.., K] (MatMul, or Gemm without transA), and every weight they read is used by them alone, so
 * scaling its rows changes nothing else.
 */
function smoothGroups(
  graph: onnx.GraphProto,
  { weights, activations }: Int8Targets,
): Map<string, SmoothGroup> {
  const constants = constantInitializers(graph);
  const uses = usesOf(graph);
  const consumers = new Map<string, onnx.NodeProto[]>();
  for (const node of nodesOf(graph)) {
    const [a, b] = node.input;
    if ((node.opType !== 'MatMul' && node.opType !== 'Gemm') || !activations.has(a) || !weights.has(b))
      continue;
    consumers.set(a, [...(consumers.get(a) ?? []), node]);
  }
  const groups = new Map<string, SmoothGroup>();
  for (const [activation, nodes] of consumers) {
    const group: SmoothGroup = { activation, channels: -1, weights: new Map() };
    const ok = nodes.every((node) => {
      if (node.opType === 'Gemm' && attributeInt(node, 'transA', 0) !== 0) return false;
      const weight = node.input[1];
      const axis = node.opType === 'Gemm' && attributeInt(node, 'transB', 0) !== 0 ? 1 : 0;
      const k = tensorDims(constants.get(weight)!)[axis];
      if (group.channels !== -1 && group.channels !== k) return false;
      group.channels = k;
      group.weights.set(weight, axis);
      return true;
    });
    // Each consumer reads one weight once, so the weights are the group's alone when that is all their uses.
    const weightUses = [...group.weights.keys()].reduce((n, w) => n + (uses.get(w) ?? 0), 0);
    if (ok && group.channels > 0 && weightUses === nodes.length) groups.set(activation, group);
  }
  return groups;
}

/** The last-axis channel count to calibrate each activation with: K where it can be smoothed, else 1. */
export function smoothChannels(model: onnx.IModelProto, targets: Int8Targets): Map<string, number> {
  const graph = model.graph as onnx.GraphProto;
  const groups = smoothGroups(graph, targets);
  return new Map([...targets.activations].map((a) => [a, groups.get(a)?.channels ?? 1]));
}

/** s_k = max|A_k|^α / max|W_k,:|^(1−α), clamped; 1 where either side is all zero. */
export function smoothingFactors(
  activationMax: Float32Array,
  weightMax: Float32Array,
  alpha: number,
): Float32Array {
  const s = new Float32Array(activationMax.length);
  for (let k = 0; k < s.length; k++) {
    const a = activationMax[k];
    const w = weightMax[k];
    s[k] =
      a > 0 && w > 0 && Number.isFinite(a) && Number.isFinite(w)
        ? Math.min(S_LIMIT, Math.max(1 / S_LIMIT, a ** alpha / w ** (1 - alpha)))
        : 1;
  }
  return s;
}

/** Multiplies a 2-D float initializer, in place, by f[i] along `axis` (0: row i; 1: column i). */
function scaleAlong(tensor: onnx.TensorProto, axis: number, f: Float32Array): void {
  const [rows, cols] = tensorDims(tensor);
  const values = readFloat32(tensor).slice();
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) values[r * cols + c] *= f[axis === 0 ? r : c];
  setFloat32(tensor, values, [rows, cols]);
}

function setFloat32(tensor: onnx.TensorProto, values: Float32Array, dims: readonly number[]): void {
  const fresh = float32Tensor(tensor.name, values, dims);
  tensor.dims = fresh.dims;
  tensor.rawData = fresh.rawData;
  tensor.floatData = [];
}

/** A float constant with one value per channel of the last axis, or (where `scalar`) one value for all. */
function perChannelConstant(tensor: onnx.TensorProto | undefined, k: number, scalar = true): boolean {
  if (!tensor || tensor.dataType !== DataType.FLOAT) return false;
  const dims = tensorDims(tensor);
  const n = elementCount(dims);
  if (n === k && dims[dims.length - 1] === k) return true;
  return scalar && n === 1 && dims.length <= 1;
}

/** Multiplies a per-channel constant, in place, by f; a scalar becomes a [K] tensor, which broadcasts alike. */
function scaleChannels(tensor: onnx.TensorProto, f: Float32Array): void {
  const values = readFloat32(tensor);
  const k = f.length;
  const out = new Float32Array(k);
  for (let i = 0; i < k; i++) out[i] = (values.length === 1 ? values[0] : values[i]) * f[i];
  setFloat32(tensor, out, values.length === 1 ? [k] : tensorDims(tensor));
}

/**
 * Edits that make A's producer emit A·diag(f) instead of A, or undefined where that is not exact or would
 * change another value: every value on the way is used once (A by its quantized consumers only), every
 * constant touched is used by its node alone, and the chain of Relu (f > 0 commutes with it) and Add of a
 * per-channel constant ends at a node with per-output-channel constants.
 */
function foldIntoProducer(
  graph: onnx.GraphProto,
  group: SmoothGroup,
  consumerCount: number,
  f: Float32Array,
): (() => void) | undefined {
  const k = group.channels;
  const constants = constantInitializers(graph) as Map<string, onnx.TensorProto>;
  const uses = usesOf(graph);
  const producers = new Map<string, onnx.NodeProto>();
  for (const node of nodesOf(graph)) for (const out of node.output) producers.set(out, node);
  const single = (name: string | undefined) => name !== undefined && name !== '' && uses.get(name) === 1;
  const edits: (() => void)[] = [];
  const done = () => () => {
    for (const edit of edits) edit();
  };
  let value = group.activation;
  if (uses.get(value) !== consumerCount) return undefined;
  for (;;) {
    const node = producers.get(value);
    if (node?.output.length !== 1) return undefined;
    const [x, y, z] = node.input;
    switch (node.opType) {
      case 'Relu':
        value = x;
        break;
      case 'Add': {
        const [other, c] = constants.has(y) ? [x, y] : [y, x];
        const tensor = constants.get(c);
        if (!single(c) || !perChannelConstant(tensor, k) || constants.has(other)) return undefined;
        edits.push(() => scaleChannels(tensor!, f));
        value = other;
        break;
      }
      case 'Mul':
      case 'Div': {
        const c = node.opType === 'Div' || constants.has(y) ? y : x;
        const tensor = constants.get(c);
        if (!single(c) || !perChannelConstant(tensor, k)) return undefined;
        const by = node.opType === 'Div' ? f.map((v) => 1 / v) : f;
        edits.push(() => scaleChannels(tensor!, by));
        return done();
      }
      case 'MatMul': {
        const w = constants.get(y);
        if (!single(y) || !w || w.dataType !== DataType.FLOAT) return undefined;
        const dims = tensorDims(w);
        if (dims.length !== 2 || dims[1] !== k) return undefined;
        edits.push(() => scaleAlong(w, 1, f));
        return done();
      }
      case 'Gemm': {
        const w = constants.get(y);
        if (!single(y) || !w || w.dataType !== DataType.FLOAT) return undefined;
        const axis = attributeInt(node, 'transB', 0) !== 0 ? 0 : 1;
        const dims = tensorDims(w);
        if (dims.length !== 2 || dims[axis] !== k) return undefined;
        const bias = z ? constants.get(z) : undefined;
        if (z && (!single(z) || !perChannelConstant(bias, k) || tensorDims(bias!).length > 2))
          return undefined;
        edits.push(() => scaleAlong(w, axis, f));
        if (bias) edits.push(() => scaleChannels(bias, f));
        return done();
      }
      case 'LayerNormalization': {
        const gamma = constants.get(y);
        const beta = z ? constants.get(z) : undefined;
        if (attributeInt(node, 'axis', -1) !== -1 || !single(y) || !perChannelConstant(gamma, k, false))
          return undefined;
        if (z && (!single(z) || !perChannelConstant(beta, k, false))) return undefined;
        edits.push(() => scaleChannels(gamma!, f));
        if (beta) edits.push(() => scaleChannels(beta, f));
        return done();
      }
      default:
        return undefined;
    }
    // An intermediate value must feed only the next node of the chain, and must not be a graph output.
    if (!single(value)) return undefined;
  }
}

/** What the QuantizeLinear of an activation reads, with its range; `nodes` go just before it. */
export interface SmoothedActivation {
  input: string;
  range: Range;
  nodes: onnx.NodeProto[];
}

/**
 * Smooths every activation it can, in place: scales the rows of its consumers' weights by s and folds 1/s
 * into its producer or a Mul. Every factor is chosen from the unedited weights before any edit is made.
 * Returns, for every activation, what to quantize and its range (unsmoothed ones: A itself).
 */
export function smoothActivations(
  graph: onnx.GraphProto,
  targets: Int8Targets,
  stats: Map<string, ChannelRanges>,
  names: NameSpace,
  options: SmoothOptions | false,
): Map<string, SmoothedActivation> {
  const alpha = options === false ? DEFAULT_SMOOTH_ALPHA : (options.alpha ?? DEFAULT_SMOOTH_ALPHA);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`smoothing alpha must be in [0, 1], not ${alpha}`);
  const out = new Map<string, SmoothedActivation>();
  const planned: { group: SmoothGroup; s: Float32Array; consumers: number }[] = [];
  // Without smoothing no activation has a group: each is quantized as it is, by its per-tensor range.
  const groups = options === false ? new Map<string, SmoothGroup>() : smoothGroups(graph, targets);
  const constants = constantInitializers(graph) as Map<string, onnx.TensorProto>;
  for (const activation of targets.activations) {
    const stat = stats.get(activation);
    if (!stat) throw new Error(`no calibration range for ${activation}`);
    const group = groups.get(activation);
    if (!group || stat.min.length !== group.channels) {
      out.set(activation, { input: activation, range: reduceRange(stat), nodes: [] });
      continue;
    }
    const aMax = stat.min.map((lo, i) => Math.max(Math.abs(lo), Math.abs(stat.max[i])));
    const wMax = new Float32Array(group.channels);
    for (const [name, axis] of group.weights) {
      const tensor = constants.get(name)!;
      const [, cols] = tensorDims(tensor);
      const values = readFloat32(tensor);
      for (let i = 0; i < values.length; i++) {
        const ch = axis === 0 ? Math.floor(i / cols) : i % cols;
        wMax[ch] = Math.max(wMax[ch], Math.abs(values[i]));
      }
    }
    const s = smoothingFactors(aMax, wMax, alpha);
    const consumers = nodesOf(graph).filter(
      (n) =>
        (n.opType === 'MatMul' || n.opType === 'Gemm') &&
        n.input[0] === activation &&
        group.weights.has(n.input[1]),
    ).length;
    planned.push({ group, s, consumers });
    out.set(activation, { input: activation, range: reduceRange(stat, s), nodes: [] });
  }
  // Folds are planned on the unedited graph (each checks single use, which edits do not change), then applied.
  const folds = planned.map(({ group, s, consumers }) =>
    foldIntoProducer(
      graph,
      group,
      consumers,
      s.map((v) => 1 / v),
    ),
  );
  planned.forEach(({ group, s }, i) => {
    for (const [name, axis] of group.weights) scaleAlong(constants.get(name)!, axis, s);
    const fold = folds[i];
    if (fold) {
      fold();
      return;
    }
    const factor = names.fresh(`${group.activation}_smooth_scale`);
    const smoothed = names.fresh(`${group.activation}_smoothed`);
    graph.initializer.push(
      float32Tensor(
        factor,
        s.map((v) => 1 / v),
        [group.channels],
      ),
    );
    const entry = out.get(group.activation)!;
    entry.input = smoothed;
    entry.nodes.push(
      onnx.NodeProto.create({
        name: names.fresh(`${group.activation}/SmoothMul`),
        opType: 'Mul',
        input: [group.activation, factor],
        output: [smoothed],
      }),
    );
  });
  return out;
}
