import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';
import { calibrateChannels } from '../../src/train/onnx/calibrate.ts';
import { cloneModel, NameSpace } from '../../src/train/onnx/graph-edit.ts';
import {
  checkSupported,
  type Feeds,
  GraphBuilder,
  maxAbsDiff,
  onnx,
  quantizeOnnx,
  quantizePerChannel,
  randomFeeds,
  readModel,
  runModel,
  smoothingFactors,
  uint8Params,
} from '../../src/train/onnx/index.ts';
import { findInt8Targets } from '../../src/train/onnx/int8.ts';
import { smoothActivations, smoothChannels } from '../../src/train/onnx/smooth.ts';

const DataType = onnx.TensorProto.DataType;

function normals(random: Random, n: number, scale: number, offset = 0): Float32Array {
  return Float32Array.from({ length: n }, () => offset + random.normal() * scale);
}

/** Dominated by its weights (12.5k of 13k values): Concat → dense → LN → Relu → Gemm(transB) → Relu → dense → Sigmoid. */
function buildModel(): Uint8Array {
  const random = new Random(5);
  const g = new GraphBuilder('ranker');
  const a = g.input('a', 'float32', ['batch', 16]);
  const b = g.input('b', 'float32', ['batch', 16]);
  let h = g.dense(
    g.op('Concat', [a, b], { axis: 1 }),
    normals(random, 32 * 128, 0.25),
    normals(random, 128, 0.1),
    32,
    128,
    'd1',
  );
  h = g.op('Relu', [g.layerNorm(h, normals(random, 128, 0.1, 1), normals(random, 128, 0.1), 1e-5, 'ln')]);
  const gemmB = g.constant('g/B', normals(random, 64 * 128, 0.125), [64, 128]);
  h = g.op('Relu', [
    g.op('Gemm', [h, gemmB, g.constant('g/C', normals(random, 64, 0.1), [64])], { transB: 1 }),
  ]);
  const logits = g.dense(h, normals(random, 64 * 4, 0.18), normals(random, 4, 0.1), 64, 4, 'd2');
  g.output(g.op('Sigmoid', [logits]), 'score', 'float32', ['batch', 4]);
  return g.toBytes();
}

const fp32 = buildModel();
const feeds = randomFeeds(readModel(fp32), 64, 1);
const nodesOf = (bytes: Uint8Array) => readModel(bytes).graph!.node as onnx.NodeProto[];
const initializers = (bytes: Uint8Array) => readModel(bytes).graph!.initializer as onnx.TensorProto[];
const attr = (node: onnx.INodeProto, name: string) => node.attribute?.find((a) => a.name === name);

describe('quantizePerChannel and uint8Params', () => {
  it('scales each output channel by its max |w| / 127, an all-zero channel by 1', () => {
    // W [2, 3]: columns (0.5, -1), (0, 0), (2.54, 1.27).
    const w = Float32Array.from([0.5, 0, 2.54, -1, 0, 1.27]);
    const { q, scales } = quantizePerChannel(w, [2, 3], 1);
    expect([...scales].map((s) => Number(s.toFixed(6)))).toEqual([0.007874, 1, 0.02]);
    expect([...q]).toEqual([64, 0, 127, -127, 0, 64]);
    // Along axis 0 (Gemm transB: B is [N, K]) the rows are the channels.
    const rows = quantizePerChannel(w, [2, 3], 0);
    expect([...rows.scales].map((s) => Number(s.toFixed(6)))).toEqual([0.02, 0.01]);
    expect([...rows.q]).toEqual([25, 0, 127, -100, 0, 127]);
  });

  it('makes an asymmetric uint8 range that holds 0', () => {
    const both = uint8Params({ min: -1, max: 3 });
    expect(both.scale).toBeCloseTo(4 / 255, 7);
    expect(both.zeroPoint).toBe(64);
    expect(uint8Params({ min: 2, max: 5 })).toEqual({ scale: Math.fround(5 / 255), zeroPoint: 0 });
    expect(uint8Params({ min: -5, max: -2 }).zeroPoint).toBe(255);
    expect(uint8Params({ min: 0, max: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
  });
});

describe('quantizeOnnx', () => {
  it('fp16 stores large float initializers as FLOAT16 behind Casts, halves the file, keeps outputs', async () => {
    const fp16 = await quantizeOnnx(fp32, { dtype: 'fp16' });
    expect(fp16.length / fp32.length).toBeLessThan(0.6);
    const tensors = initializers(fp16);
    const half = tensors.filter((t) => t.dataType === DataType.FLOAT16);
    // d1/kernel, d1/bias, ln gamma/beta, g/B, g/C, d2/kernel; d2/bias has 4 values and stays float32.
    expect(half.map((t) => t.name).sort()).toEqual(
      ['d1/bias', 'd1/kernel', 'd2/kernel', 'g/B', 'g/C', 'ln/beta', 'ln/gamma']
        .map((n) => `${n}_fp16`)
        .sort(),
    );
    expect(tensors.filter((t) => t.dataType === DataType.FLOAT).map((t) => t.name)).toEqual(['d2/bias']);
    const casts = nodesOf(fp16).filter((n) => n.opType === 'Cast');
    expect(casts).toHaveLength(7);
    for (const cast of casts) expect(Number(attr(cast, 'to')!.i)).toBe(DataType.FLOAT);
    const model = readModel(fp16);
    expect(model.graph!.input!.map((v) => v.type!.tensorType!.elemType)).toEqual([
      DataType.FLOAT,
      DataType.FLOAT,
    ]);
    expect(model.metadataProps.find((p) => p.key === 'edgerec.quantization')!.value).toBe('fp16');
    const diff = maxAbsDiff(await runModel(fp32, feeds), await runModel(fp16, feeds));
    expect(diff).toBeGreaterThan(0); // the weights really were rounded
    expect(diff).toBeLessThan(1e-2);
  });

  it('int8 dq: per-channel DequantizeLinear on MatMul and Gemm weights, no QuantizeLinear', async () => {
    const dq = await quantizeOnnx(fp32, { dtype: 'int8', form: 'dq' });
    const tensors = new Map(initializers(dq).map((t) => [t.name, t]));
    const dequantize = nodesOf(dq).filter((n) => n.opType === 'DequantizeLinear');
    const axes = Object.fromEntries(
      dequantize.map((n) => [
        n.output[0],
        [Number(attr(n, 'axis')!.i), Number(tensors.get(n.input[1])!.dims![0])],
      ]),
    );
    // MatMul W[K, N] → axis 1, N scales; Gemm transB B[N, K] → axis 0, N scales.
    expect(axes).toEqual({ 'd1/kernel': [1, 128], 'g/B': [0, 64], 'd2/kernel': [1, 4] });
    for (const n of dequantize) {
      expect(tensors.get(n.input[0])!.dataType).toBe(DataType.INT8);
      expect(tensors.get(n.input[2])!.dataType).toBe(DataType.INT8);
    }
    expect(nodesOf(dq).some((n) => n.opType === 'QuantizeLinear')).toBe(false);
    // Biases and layer-norm parameters stay float32.
    for (const name of ['d1/bias', 'ln/gamma', 'ln/beta', 'g/C', 'd2/bias'])
      expect(tensors.get(name)!.dataType).toBe(DataType.FLOAT);
    // 12,544 weights: 50 kB as float32, 12.5 kB as int8, plus per-channel scales.
    expect(dq.length / fp32.length).toBeLessThan(0.35);
    const diff = maxAbsDiff(await runModel(fp32, feeds), await runModel(dq, feeds));
    expect(diff).toBeGreaterThan(1e-4);
    expect(diff).toBeLessThan(0.02);
  });

  it('int8 qdq: calibrated uint8 QuantizeLinear → DequantizeLinear on the activations of quantized layers', async () => {
    // Without smoothing, so that each activation is quantized as it is (smoothing is tested below).
    const qdq = await quantizeOnnx(fp32, { dtype: 'int8', form: 'qdq', calibration: feeds, smooth: false });
    const nodes = nodesOf(qdq);
    const quantize = nodes.filter((n) => n.opType === 'QuantizeLinear');
    expect(quantize.map((n) => n.input[0])).toEqual(['Concat_out', 'Relu_out', 'Relu_1_out']);
    const tensors = new Map(initializers(qdq).map((t) => [t.name, t]));
    // The Concat output is exactly the inputs, so its range is that of the calibration feeds.
    let lo = 0;
    let hi = 0;
    for (const feed of feeds)
      for (const { data } of Object.values(feed))
        for (const v of data as Float32Array) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
    const scale = tensors.get(quantize[0].input[1])!;
    const zero = tensors.get(quantize[0].input[2])!;
    expect(zero.dataType).toBe(DataType.UINT8);
    expect(new Float32Array(new Uint8Array(scale.rawData!).buffer)[0]).toBeCloseTo((hi - lo) / 255, 6);
    expect(zero.rawData![0]).toBe(Math.round(-lo / ((hi - lo) / 255)));
    // A Relu output is non-negative: zero point 0.
    expect(tensors.get(quantize[1].input[2])!.rawData![0]).toBe(0);
    // Each quantized MatMul/Gemm reads its activation through the DequantizeLinear.
    const matmul = nodes.find((n) => n.opType === 'MatMul' && n.input[1] === 'd1/kernel')!;
    expect(matmul.input[0]).toBe('Concat_out_dequantized');
    const diff = maxAbsDiff(await runModel(fp32, feeds), await runModel(qdq, feeds));
    expect(diff).toBeGreaterThan(1e-4);
    expect(diff).toBeLessThan(0.03);
  });

  it('int8 qdq smooths by default: 1/s folded into constant-weight producers, else a Mul before the Q', async () => {
    const qdq = await quantizeOnnx(fp32, { dtype: 'int8', form: 'qdq', calibration: feeds });
    const nodes = nodesOf(qdq);
    // The Concat of graph inputs has no constant to absorb 1/s: a Mul. The LayerNorm → Relu and Gemm → Relu
    // outputs are produced from constants (gamma, beta; B, C) that take it over, so they are quantized as is.
    expect(nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.input[0])).toEqual([
      'Concat_out_smoothed',
      'Relu_out',
      'Relu_1_out',
    ]);
    const mul = nodes.find((n) => n.output[0] === 'Concat_out_smoothed')!;
    expect(mul.opType).toBe('Mul');
    expect(mul.input[0]).toBe('Concat_out');
    const tensors = new Map(initializers(qdq).map((t) => [t.name, t]));
    expect(tensors.get(mul.input[1])!.dims!.map(Number)).toEqual([32]);
    const before = new Map(initializers(fp32).map((t) => [t.name, t]));
    for (const name of ['ln/gamma', 'ln/beta', 'g/C'])
      expect(tensors.get(name)!.rawData).not.toEqual(before.get(name)!.rawData);
    expect(nodes.find((n) => n.input[1] === 'd1/kernel')!.input[0]).toBe('Concat_out_dequantized');
    const diff = maxAbsDiff(await runModel(fp32, feeds), await runModel(qdq, feeds));
    expect(diff).toBeGreaterThan(1e-4);
    expect(diff).toBeLessThan(0.03);
    expect(await quantizeOnnx(fp32, { dtype: 'int8', form: 'qdq', calibration: feeds })).toEqual(qdq);
  });

  it('smoothing alone, before any rounding, leaves the outputs unchanged', async () => {
    const model = readModel(fp32);
    const targets = findInt8Targets(model);
    const stats = await calibrateChannels(model, smoothChannels(model, targets), feeds);
    const { model: copy, graph } = cloneModel(model);
    const smoothed = smoothActivations(graph, targets, stats, new NameSpace(graph), {});
    // Each quantized consumer reads what its QuantizeLinear would: A, or the Mul's A/s.
    const nodes: onnx.NodeProto[] = [];
    for (const node of graph.node as onnx.NodeProto[]) {
      const entry = smoothed.get(node.input[0]);
      if (
        entry &&
        (node.opType === 'MatMul' || node.opType === 'Gemm') &&
        targets.weights.has(node.input[1])
      ) {
        if (!nodes.some((n) => entry.nodes.includes(n))) nodes.push(...entry.nodes);
        node.input[0] = entry.input;
      }
      nodes.push(node);
    }
    graph.node = nodes;
    expect([...smoothed.values()].filter((e) => e.nodes.length > 0)).toHaveLength(1);
    const outputs = await runModel(onnx.ModelProto.encode(copy).finish(), feeds);
    expect(maxAbsDiff(await runModel(fp32, feeds), outputs)).toBeLessThan(2e-5);
  });

  it('smoothing rescues a MatMul whose input joins channels of very different scales', async () => {
    // Concat[0.01·a, 3·b] → MatMul: both halves matter equally (the weights of the small one are 300× larger),
    // as in the ranker, whose embedding products (~0.01) meet standardised context features (~±3).
    const random = new Random(7);
    const g = new GraphBuilder('mixed');
    const a = g.op('Mul', [g.input('a', 'float32', ['batch', 16]), g.scalar(0.01)]);
    const b = g.op('Mul', [g.input('b', 'float32', ['batch', 16]), g.scalar(3)]);
    const weight = new Float32Array(32 * 8);
    for (let k = 0; k < 32; k++)
      for (let n = 0; n < 8; n++) weight[k * 8 + n] = random.normal() * (k < 16 ? 1 : 1 / 300);
    const y = g.dense(g.op('Concat', [a, b], { axis: 1 }), weight, undefined, 32, 8, 'd');
    g.output(y, 'y', 'float32', ['batch', 8]);
    const mixed = g.toBytes();
    const data = randomFeeds(readModel(mixed), 256, 3);
    const reference = await runModel(mixed, data);
    const error = async (smooth: false | { alpha?: number }) =>
      maxAbsDiff(
        reference,
        await runModel(
          await quantizeOnnx(mixed, { dtype: 'int8', form: 'qdq', calibration: data, smooth }),
          data,
        ),
      );
    const plain = await error(false);
    const smoothed = await error({});
    // Unsmoothed, the 0.01·a half rounds to 0 at a step set by 3·b (the error outgrows y itself, std ~0.06);
    // smoothed, both halves span the same range (0.20 vs 0.002 when written).
    expect(plain).toBeGreaterThan(0.05);
    expect(smoothed).toBeLessThan(plain / 20);
    expect(smoothed).toBeLessThan(0.01);
    await expect(error({ alpha: 1.5 })).rejects.toThrow(/alpha must be in \[0, 1\]/);
  });

  it('picks s = max|A|^α / max|W|^(1−α), clamped, and 1 for all-zero channels', () => {
    const s = smoothingFactors(
      Float32Array.from([4, 0.01, 0, 2, 1e9]),
      Float32Array.from([1, 1, 3, 0, 1e-9]),
      0.5,
    );
    expect([...s].map((v) => Number(v.toPrecision(4)))).toEqual([2, 0.1, 1, 1, 1e4]);
  });

  it('is deterministic and refuses qdq without calibration, quantized input and unsupported ops', async () => {
    const once = await quantizeOnnx(fp32, { dtype: 'int8', form: 'dq' });
    expect(await quantizeOnnx(fp32, { dtype: 'int8', form: 'dq' })).toEqual(once);
    await expect(quantizeOnnx(fp32, { dtype: 'int8', form: 'qdq' })).rejects.toThrow(/needs calibration/);
    await expect(quantizeOnnx(once, { dtype: 'fp16' })).rejects.toThrow(
      /already quantized \(initializer .* is int8\)/,
    );
    const fp16 = await quantizeOnnx(fp32, { dtype: 'fp16' });
    await expect(quantizeOnnx(fp16, { dtype: 'int8', form: 'dq' })).rejects.toThrow(InputError);
    const badFeed: Feeds = { a: feeds[0].a };
    await expect(quantizeOnnx(fp32, { dtype: 'int8', form: 'qdq', calibration: [badFeed] })).rejects.toThrow(
      /input b is missing/,
    );
  });
});

describe('checkSupported', () => {
  it('names every unsupported op type, and ops of other domains', () => {
    const g = new GraphBuilder('conv');
    const x = g.input('x', 'float32', [1, 1, 4, 4]);
    const conv = g.op('Conv', [x, g.constant('w', new Float32Array(9), [1, 1, 3, 3])]);
    g.op('LSTM', [g.op('Relu', [conv])]);
    g.op('Conv', [conv, 'w']);
    expect(() => checkSupported(readModel(g.toBytes()))).toThrow(
      /^unsupported op types Conv, LSTM \(supported: MatMul, Gemm/,
    );
    const model = readModel(fp32);
    model.graph!.node![0].domain = 'com.microsoft';
    expect(() => checkSupported(model)).toThrow(/unsupported op type com\.microsoft\.Concat /);
    expect(() => checkSupported(readModel(fp32))).not.toThrow();
  });

  it('refuses opsets before 13', () => {
    const model = readModel(fp32);
    model.opsetImport![0].version = 11;
    expect(() => checkSupported(model)).toThrow(/opset 11; edgerec needs opset 13/);
  });
});
