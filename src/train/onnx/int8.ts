import { makeAttribute } from './attributes.ts';
import { cloneModel, constantInitializers, NameSpace, nodesOf, replaceInitializer } from './graph-edit.ts';
import type { Int8Targets, Range } from './int8-targets.ts';
import { attributeInt, DataType, float32Tensor, onnx, rawTensor, readFloat32, tensorDims } from './proto.ts';
import {
  type ChannelRanges,
  type SmoothedActivation,
  type SmoothOptions,
  smoothActivations,
} from './smooth.ts';

export type Int8Form = 'dq' | 'qdq';

/**
 * MatMul(A, W) with W a 2-D float initializer [K, N] quantizes along axis 1; Gemm(A, B) along the axis of
 * B that holds N: 0 when transB, else 1. Other initializers (biases, norms, Gather tables) stay float32.
 */
export function findInt8Targets(model: onnx.IModelProto): Int8Targets {
  const graph = model.graph!;
  const constants = constantInitializers(graph);
  const weights = new Map<string, number>();
  const activations = new Set<string>();
  for (const node of graph.node ?? []) {
    if (node.opType !== 'MatMul' && node.opType !== 'Gemm') continue;
    const [a, b] = node.input ?? [];
    const weight = constants.get(b);
    if (!weight || weight.dataType !== DataType.FLOAT || tensorDims(weight).length !== 2) continue;
    const axis = node.opType === 'Gemm' && attributeInt(node, 'transB', 0) !== 0 ? 0 : 1;
    if (!weights.has(b)) weights.set(b, axis);
    if (!constants.has(a)) activations.add(a);
  }
  return { weights, activations };
}

/** Symmetric per-channel int8 along `axis` of a 2-D tensor: zero point 0, scale = max|w| / 127. */
export function quantizePerChannel(
  values: Float32Array,
  dims: readonly number[],
  axis: number,
): { q: Int8Array; scales: Float32Array } {
  const [rows, cols] = dims;
  const channels = dims[axis];
  const scales = new Float32Array(channels);
  const channelOf = (r: number, c: number) => (axis === 0 ? r : c);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const ch = channelOf(r, c);
      scales[ch] = Math.max(scales[ch], Math.abs(values[r * cols + c]));
    }
  // An all-zero channel quantizes to zeros at any scale; 1 keeps DequantizeLinear away from 0 · ∞ oddities.
  for (let ch = 0; ch < channels; ch++) scales[ch] = scales[ch] > 0 ? scales[ch] / 127 : 1;
  const q = new Int8Array(values.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      q[i] = Math.max(-127, Math.min(127, Math.round(values[i] / scales[channelOf(r, c)])));
    }
  return { q, scales };
}

/** Asymmetric per-tensor uint8 parameters for a range; the range is widened to hold 0, so 0 is exact. */
export function uint8Params(range: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max);
  const scale = Math.fround((hi - lo) / 255);
  if (!(scale > 0) || !Number.isFinite(scale)) return { scale: 1, zeroPoint: 0 };
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-lo / scale))) };
}

function quantizeWeights(graph: onnx.GraphProto, weights: Map<string, number>, names: NameSpace): void {
  const constants = constantInitializers(graph);
  for (const [name, axis] of weights) {
    const tensor = constants.get(name)!;
    const dims = tensorDims(tensor);
    const { q, scales } = quantizePerChannel(readFloat32(tensor), dims, axis);
    const qName = names.fresh(`${name}_quantized`);
    const scaleName = names.fresh(`${name}_scale`);
    const zeroName = names.fresh(`${name}_zero_point`);
    replaceInitializer(
      graph,
      name,
      [
        rawTensor(qName, DataType.INT8, q, dims),
        float32Tensor(scaleName, scales, [scales.length]),
        rawTensor(zeroName, DataType.INT8, new Int8Array(scales.length), [scales.length]),
      ],
      onnx.NodeProto.create({
        name: names.fresh(`${name}/DequantizeLinear`),
        opType: 'DequantizeLinear',
        input: [qName, scaleName, zeroName],
        output: [name],
        attribute: [makeAttribute('axis', axis)],
      }),
    );
  }
}

/**
 * QuantizeLinear → DequantizeLinear on each activation (or on its smoothed form, after the nodes that make
 * it), placed just before its first quantized consumer.
 */
function insertActivationQdq(
  graph: onnx.GraphProto,
  { weights, activations }: Int8Targets,
  smoothed: Map<string, SmoothedActivation>,
  names: NameSpace,
): void {
  const replacement = new Map<string, { name: string; nodes: onnx.NodeProto[] }>();
  for (const activation of activations) {
    const { input, range, nodes: prelude } = smoothed.get(activation)!;
    const { scale, zeroPoint } = uint8Params(range);
    const scaleName = names.fresh(`${activation}_scale`);
    const zeroName = names.fresh(`${activation}_zero_point`);
    const quantized = names.fresh(`${activation}_quantized`);
    const dequantized = names.fresh(`${activation}_dequantized`);
    graph.initializer.push(
      float32Tensor(scaleName, new Float32Array([scale]), []),
      rawTensor(zeroName, DataType.UINT8, new Uint8Array([zeroPoint]), []),
    );
    replacement.set(activation, {
      name: dequantized,
      nodes: [
        ...prelude,
        onnx.NodeProto.create({
          name: names.fresh(`${activation}/QuantizeLinear`),
          opType: 'QuantizeLinear',
          input: [input, scaleName, zeroName],
          output: [quantized],
        }),
        onnx.NodeProto.create({
          name: names.fresh(`${activation}/DequantizeLinear`),
          opType: 'DequantizeLinear',
          input: [quantized, scaleName, zeroName],
          output: [dequantized],
        }),
      ],
    });
  }
  const nodes: onnx.NodeProto[] = [];
  const placed = new Set<string>();
  for (const node of nodesOf(graph)) {
    const a = node.input[0];
    const qdq = replacement.get(a);
    // Only the MatMul/Gemm whose weight was quantized: A may also feed other nodes, which keep it float.
    if (qdq && (node.opType === 'MatMul' || node.opType === 'Gemm') && weights.has(node.input[1])) {
      if (!placed.has(a)) {
        nodes.push(...qdq.nodes);
        placed.add(a);
      }
      node.input[0] = qdq.name;
    }
    nodes.push(node);
  }
  graph.node = nodes;
}

/**
 * int8 weights, per output channel, dequantized in the graph; `qdq` also fake-quantizes the activations
 * that enter each quantized MatMul/Gemm to uint8 with calibrated per-tensor ranges.
 *
 * `dq` (weights only, activations float) is the form that keeps every node on the GPU under onnxruntime-web's
 * webgpu EP: DequantizeLinear has a webgpu kernel there, but QuantizeLinear — like DynamicQuantizeLinear and
 * MatMulInteger — does not and falls back to the CPU, costing a GPU↔CPU copy per quantized layer. `qdq` is
 * the standard static-quantization form, for EPs that fuse Q/DQ pairs into integer kernels (ORT's CPU EP).
 *
 * `qdq` takes each activation's calibrated ranges: per channel of its last axis (see smoothChannels) for the
 * activations to smooth (smooth.ts: SmoothQuant, on unless `smooth` is false), else one range per tensor.
 */
export function quantizeInt8(
  source: onnx.IModelProto,
  form: Int8Form,
  stats?: Map<string, ChannelRanges>,
  smooth: SmoothOptions | false = {},
): onnx.ModelProto {
  const targets = findInt8Targets(source);
  const { model, graph } = cloneModel(source);
  const names = new NameSpace(graph);
  if (form === 'qdq') {
    if (!stats) throw new Error('the qdq form needs calibrated activation ranges');
    // Smoothing scales weight rows, so it comes before the weights are quantized.
    const smoothed = smoothActivations(graph, targets, stats, names, smooth);
    quantizeWeights(graph, targets.weights, names);
    insertActivationQdq(graph, targets, smoothed, names);
  } else {
    quantizeWeights(graph, targets.weights, names);
  }
  return model;
}
