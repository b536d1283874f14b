import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';
import { float, GraphBuilder, onnx, readModel } from '../../src/train/onnx/index.ts';

const A = 3;
const B = 5;
const IN = A + B;
const HIDDEN = 16;
const OUT = 4;

function normals(random: Random, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => random.normal() * scale);
}

const random = new Random(11);
const weights = {
  w1: normals(random, IN * HIDDEN, 0.5),
  b1: normals(random, HIDDEN, 0.1),
  gamma: Float32Array.from({ length: HIDDEN }, () => 1 + random.normal() * 0.1),
  beta: normals(random, HIDDEN, 0.1),
  w2: normals(random, HIDDEN * OUT, 0.5),
  b2: normals(random, OUT, 0.1),
};

function buildModel(): Uint8Array {
  const g = new GraphBuilder('mlp');
  const a = g.input('a', 'float32', ['batch', A]);
  const b = g.input('b', 'float32', ['batch', B]);
  const x = g.op('Concat', [a, b], { axis: 1 });
  let h = g.dense(x, weights.w1, weights.b1, IN, HIDDEN, 'dense1');
  h = g.layerNorm(h, weights.gamma, weights.beta, 1e-5, 'norm');
  h = g.op('Relu', [h]);
  const logits = g.dense(h, weights.w2, weights.b2, HIDDEN, OUT, 'dense2');
  g.output(g.op('Sigmoid', [logits]), 'score', 'float32', ['batch', OUT]);
  g.output(g.op('Softmax', [logits], { axis: -1 }), 'probs', 'float32', ['batch', OUT]);
  return g.toBytes({ docString: 'test mlp', metadata: { purpose: 'test' } });
}

/** The same network in float64 JS. */
function reference(a: Float32Array, b: Float32Array, rows: number): { score: number[]; probs: number[] } {
  const score: number[] = [];
  const probs: number[] = [];
  for (let r = 0; r < rows; r++) {
    const x = [...a.subarray(r * A, (r + 1) * A), ...b.subarray(r * B, (r + 1) * B)];
    const h = Array.from({ length: HIDDEN }, (_, j) => {
      let s = weights.b1[j];
      for (let i = 0; i < IN; i++) s += x[i] * weights.w1[i * HIDDEN + j];
      return s;
    });
    const mean = h.reduce((s, v) => s + v, 0) / HIDDEN;
    const variance = h.reduce((s, v) => s + (v - mean) ** 2, 0) / HIDDEN;
    const n = h.map((v, j) =>
      Math.max(0, ((v - mean) / Math.sqrt(variance + 1e-5)) * weights.gamma[j] + weights.beta[j]),
    );
    const logits = Array.from({ length: OUT }, (_, k) => {
      let s = weights.b2[k];
      for (let j = 0; j < HIDDEN; j++) s += n[j] * weights.w2[j * OUT + k];
      return s;
    });
    score.push(...logits.map((v) => 1 / (1 + Math.exp(-v))));
    const top = Math.max(...logits);
    const exps = logits.map((v) => Math.exp(v - top));
    const total = exps.reduce((s, v) => s + v, 0);
    probs.push(...exps.map((v) => v / total));
  }
  return { score, probs };
}

function maxDiff(actual: ArrayLike<number>, expected: number[]): number {
  expect(actual.length).toBe(expected.length);
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]));
  return max;
}

describe('GraphBuilder', () => {
  const bytes = buildModel();

  it.each([1, 7])('runs in onnxruntime-node and matches a JS reference at batch %i', async (rows) => {
    const session = await ort.InferenceSession.create(bytes);
    const inputs = new Random(rows);
    const a = normals(inputs, rows * A, 1);
    const b = normals(inputs, rows * B, 1);
    const result = await session.run({
      a: new ort.Tensor('float32', a, [rows, A]),
      b: new ort.Tensor('float32', b, [rows, B]),
    });
    const expected = reference(a, b, rows);
    expect(result.score.dims).toEqual([rows, OUT]);
    expect(maxDiff(result.score.data as Float32Array, expected.score)).toBeLessThan(1e-5);
    expect(maxDiff(result.probs.data as Float32Array, expected.probs)).toBeLessThan(1e-5);
    // Not a trivially flat network: the probabilities spread.
    expect(Math.max(...expected.probs) - Math.min(...expected.probs)).toBeGreaterThan(0.1);
    await session.release();
  });

  it('writes IR 8, opset 17, a dynamic batch dim, metadata and renamed outputs without Identity', () => {
    const model = readModel(bytes);
    expect(Number(model.irVersion)).toBe(8);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    expect(model.producerName).toBe('edgerec');
    expect(model.docString).toBe('test mlp');
    expect(model.metadataProps.map((p) => [p.key, p.value])).toEqual([['purpose', 'test']]);
    const graph = model.graph!;
    expect(graph.input!.map((v) => v.name)).toEqual(['a', 'b']);
    expect(
      graph.input![0].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue)),
    ).toEqual(['batch', 3]);
    expect(graph.output!.map((v) => v.name)).toEqual(['score', 'probs']);
    expect(graph.node!.map((n) => n.opType)).not.toContain('Identity');
    expect(graph.node!.find((n) => n.opType === 'Sigmoid')!.output).toEqual(['score']);
    const norm = graph.node!.find((n) => n.opType === 'LayerNormalization')!;
    const epsilon = norm.attribute!.find((a) => a.name === 'epsilon')!;
    expect(epsilon.type).toBe(onnx.AttributeProto.AttributeType.FLOAT);
    expect(epsilon.f).toBeCloseTo(1e-5, 10);
    expect(graph.initializer!.map((t) => t.name)).toEqual([
      'dense1/kernel',
      'dense1/bias',
      'norm/gamma',
      'norm/beta',
      'dense2/kernel',
      'dense2/bias',
    ]);
  });

  it('types attributes, widens Int32 constants to INT64, uses Identity where a rename cannot work', async () => {
    const g = new GraphBuilder('misc');
    const x = g.input('x', 'float32', ['batch', 4]);
    const table = g.constant(
      'table',
      Float32Array.from({ length: 12 }, (_, i) => i),
      [3, 4],
    );
    const ids = g.constant('ids', new Int32Array([2, 0]), [2]);
    const picked = g.op('Gather', [table, ids], { axis: 0 });
    const [left, right] = g.opMulti('Split', [x, g.constant('sizes', new Int32Array([1, 3]), [2])], 2, {
      axis: 1,
    });
    const clipped = g.op('LeakyRelu', [right], { alpha: 1 });
    const scaled = g.op('Mul', [left, g.scalar(2.5)], undefined, 'scale');
    g.output(picked, 'picked', 'float32', [2, 4]);
    g.output(picked, 'picked_again', 'float32', [2, 4]);
    g.output(x, 'x_copy', 'float32', ['batch', 4]);
    g.output(clipped, 'right', 'float32', ['batch', 3]);
    g.output(scaled, 'left', 'float32', ['batch', 1]);
    const model = readModel(g.toBytes());
    const graph = model.graph!;
    const init = (name: string) => graph.initializer!.find((t) => t.name === name)!;
    expect(init('ids').dataType).toBe(onnx.TensorProto.DataType.INT64);
    expect(Number(init('scalar').dims!.length)).toBe(0);
    const Type = onnx.AttributeProto.AttributeType;
    const attr = (op: string, name: string) =>
      graph.node!.find((n) => n.opType === op)!.attribute!.find((a) => a.name === name)!;
    expect(attr('LeakyRelu', 'alpha').type).toBe(Type.FLOAT);
    expect(attr('Gather', 'axis').type).toBe(Type.INT);
    // float() forces FLOAT for a whole number under a name the builder does not know (ORT would refuse the
    // unknown attribute, so this graph is only inspected).
    const forced = new GraphBuilder('forced');
    forced.op('Shrink', [forced.input('y', 'float32', [1])], { size: 3, custom: float(3) });
    const shrink = readModel(forced.toBytes()).graph!.node![0].attribute!;
    expect(shrink.map((a) => [a.name, a.type])).toEqual([
      ['size', Type.INT],
      ['custom', Type.FLOAT],
    ]);
    expect(graph.node!.filter((n) => n.opType === 'Identity').map((n) => n.output![0])).toEqual([
      'picked_again',
      'x_copy',
    ]);

    const session = await ort.InferenceSession.create(g.toBytes());
    const data = Float32Array.from([1, -2, 3, -4, 5, 6, -7, 8]);
    const out = await session.run({ x: new ort.Tensor('float32', data, [2, 4]) });
    expect([...(out.picked.data as Float32Array)]).toEqual([8, 9, 10, 11, 0, 1, 2, 3]);
    expect([...(out.picked_again.data as Float32Array)]).toEqual([8, 9, 10, 11, 0, 1, 2, 3]);
    expect([...(out.x_copy.data as Float32Array)]).toEqual([...data]);
    expect([...(out.right.data as Float32Array)]).toEqual([-2, 3, -4, 6, -7, 8]);
    expect([...(out.left.data as Float32Array)]).toEqual([2.5, 12.5]);
    await session.release();
  });

  it('refuses bad references and bytes that are not a model', () => {
    const g = new GraphBuilder('bad');
    g.input('x', 'float32', [2]);
    expect(() => g.op('Relu', ['nope'])).toThrow(/nope is not a value/);
    expect(() => g.input('x', 'float32', [2])).toThrow(/already has a value named x/);
    expect(() => g.constant('w', new Float32Array(5), [2, 3])).toThrow(/5 values do not fill dims \[2, 3\]/);
    expect(() => readModel(new TextEncoder().encode('hello, this is a text file'))).toThrow(InputError);
    expect(() => readModel(new Uint8Array(0))).toThrow(/not an ONNX model/);
  });
});
