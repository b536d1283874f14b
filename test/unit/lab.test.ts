/**
 * The quantization lab (src/core/lab, src/train/lab, `edgerec lab`): the eval pack round-trips, the shared
 * metrics equal hand-computed values, and `edgerec lab run --json` on the small real bundle reproduces the
 * bundle's build-time metrics where both measure the same thing.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleManifest, ModelEntry } from '../../src/core/bundle/index.ts';
import {
  checkRankerContract,
  decodeEvalPack,
  describeRetrievalSpace,
  type EvalPack,
  encodeEvalPack,
  externalRankerEntry,
  LAB_PACK_FORMAT,
  type LabResult,
  labRetrievalSpace,
  latencyStats,
  type OnnxSignature,
  rankerFileStem,
  rankerMetricsOf,
  userRetrievalMetrics,
  withSpeedups,
} from '../../src/core/lab/index.ts';
import { type Dim, GraphBuilder } from '../../src/train/onnx/index.ts';
import setupBundle, { BUNDLE_DIR } from '../browser/setup/bundle.global.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/edgerec.mjs');

function tinyPack(): EvalPack {
  return {
    format: LAB_PACK_FORMAT,
    bundle: '20260101-abcdef0123',
    split: 'valid',
    dim: 2,
    encoderLength: 3,
    contextDim: 1,
    heads: ['click', 'closeup', 'save', 'hide'],
    window: { from: 1000, to: 2000 },
    seed: 7,
    available: { users: 5, examples: 9 },
    created: '2026-01-01T00:00:00.000Z',
    users: Int32Array.from([4, 9]),
    windows: {
      offsets: Int32Array.from([0, 2, 5]),
      items: Int32Array.from([1, 2, 3, 4, 5]),
      actions: Uint8Array.from([1, 3, 2, 2, 4]),
      ts: Float64Array.from([10.5, 20.25, 30, 40, 1e12 + 0.125]),
    },
    targets: { offsets: Int32Array.from([0, 1, 3]), items: Int32Array.from([6, 7, 8]) },
    examples: {
      size: 3,
      user: Int32Array.from([0, 0, 1]),
      session: Int32Array.from([0, 1, 1]),
      item: Int32Array.from([3, 2, 1]),
      context: Float32Array.from([0.5, 1.5, 2.5]),
      labels: Uint8Array.from([1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1]),
    },
    userLong: Float32Array.from([0.1, 0.2, 0.3, 0.4]),
    userShort: Float32Array.from([-1, 1, 0.25, -0.25]),
  };
}

describe('eval pack format', () => {
  it('round-trips every section and its metadata', () => {
    const pack = tinyPack();
    const bytes = encodeEvalPack(pack);
    expect(decodeEvalPack(bytes)).toEqual(pack);
    // Unaligned copies decode too (a download may land at any offset).
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(decodeEvalPack(shifted.subarray(3))).toEqual(pack);
  });

  it('refuses other files and other format versions, naming the file', () => {
    expect(() => decodeEvalPack(new TextEncoder().encode('not a pack at all'), 'lab/valid.bin')).toThrow(
      /lab\/valid.bin: not an edgerec eval pack/,
    );
    const bytes = encodeEvalPack({ ...tinyPack(), format: 2 as never });
    expect(() => decodeEvalPack(bytes)).toThrow(/format 2, this build reads format 1/);
    const whole = encodeEvalPack(tinyPack());
    expect(() => decodeEvalPack(whole.subarray(0, whole.length - 8))).toThrow(
      /userShort lies outside the file/,
    );
  });
});

describe('lab metrics (src/core/lab)', () => {
  it('retrieval: HR, NDCG and Recall of one ranked list', () => {
    const ranked = Int32Array.from({ length: 20 }, (_, i) => 100 + i);
    ranked[1] = 2;
    ranked[15] = 11;
    const m = userRetrievalMetrics(ranked, new Set([2, 11]));
    const idcg = 1 + 1 / Math.log2(3);
    expect(m['HR@10']).toBe(1);
    expect(m['Recall@10']).toBe(0.5);
    expect(m['NDCG@10']).toBeCloseTo(1 / Math.log2(3) / idcg, 12);
    expect(m['Recall@20']).toBe(1);
    expect(m['NDCG@20']).toBeCloseTo((1 / Math.log2(3) + 1 / Math.log2(17)) / idcg, 12);
    expect(userRetrievalMetrics(ranked, new Set([999]))['HR@10']).toBe(0);
  });

  it('ranker: AUC per head (ties count one half) and utility NDCG@10 per session', () => {
    // Heads click, closeup, save, hide; utility weights 1, 0.5, 2, -4.
    const probs = Float32Array.from([
      ...[0.9, 0.1, 0.9, 0.2],
      ...[0.2, 0.8, 0.5, 0.1],
      ...[0.6, 0.3, 0.1, 0.05],
      ...[0.4, 0.4, 0.1, 0.3],
    ]);
    const labels = Uint8Array.from([...[1, 0, 0, 0], ...[0, 1, 0, 0], ...[0, 0, 0, 1], ...[1, 0, 1, 0]]);
    const m = rankerMetricsOf(probs, labels, [0, 0, 1, 1]);
    expect(m['AUC.click']).toBe(3 / 4); // positives 0.9, 0.4 against 0.2, 0.6
    expect(m['AUC.closeup']).toBe(1);
    expect(m['AUC.save']).toBeCloseTo(0.5 / 3, 12); // 0.1 against 0.9, 0.5 and a tied 0.1
    expect(m['AUC.hide']).toBe(0);
    // Session 0: predicted 1.95 > 1.2 with gains 1 > 0.5: ideal, NDCG 1. Session 1: predicted 0.75 > -0.4,
    // but the gains are 0 (a hide) and 3 (click + save): DCG 7/log2(3), ideal 7.
    expect(m['UtilityNDCG@10']).toBeCloseTo((1 + 1 / Math.log2(3)) / 2, 6);
  });

  it('latency percentiles (nearest rank) and speed-ups against the same device’s f32 / fp32 row', () => {
    const stats = latencyStats(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(stats).toEqual({ p50: 50, p99: 99, mean: 50.5, samples: 100 });
    const row = (variant: string, device: string, p50: number) => ({
      kind: 'items' as const,
      variant,
      dtype: variant as 'f32',
      device,
      backend: device,
      bytes: 1,
      metrics: {},
      latency: { p50, p99: p50, mean: p50, samples: 1 },
      unit: 'scan',
      speedup: null,
    });
    const rows = withSpeedups([row('f32', 'wasm', 2), row('i8', 'wasm', 0.5), row('i8', 'webgpu', 1)]);
    expect(rows.map((r) => r.speedup)).toEqual([1, 4, null]);
    // Ranker files: against the fp32 file of their family, else the first fp32 file, else the first file.
    const file = (variant: string, dtype: string, p50: number) => ({
      ...row(variant, 'cpu', p50),
      kind: 'ranker' as const,
      source: 'file' as const,
      dtype: dtype as 'fp32',
    });
    const files = withSpeedups([
      { ...row('fp32', 'cpu', 9), kind: 'ranker' },
      file('a.int8-dq.onnx', 'int8', 1),
      file('a.onnx', 'fp32', 2),
      file('b.fp16.onnx', 'fp16', 4),
    ]);
    expect(files.map((r) => r.speedup)).toEqual([1, 2, 1, 0.5]);
    expect(
      withSpeedups([file('x.fp16.onnx', 'fp16', 2), file('x.int8-dq.onnx', 'int8', 1)]).map((r) => r.speedup),
    ).toEqual([1, 2]);
    expect(['m.onnx', 'v/m.fp32.onnx', 'm.int8-qdq.onnx', 'm.v2.onnx'].map(rankerFileStem)).toEqual([
      'm',
      'm',
      'm',
      'm.v2',
    ]);
  });
});

describe("the lab names the item tables' model (retrieval space)", () => {
  const manifest = (retrieval?: BundleManifest['retrieval']) => ({ retrieval }) as BundleManifest;

  it('reads LightGCN and its validation scores from the manifest', () => {
    const space = labRetrievalSpace(
      manifest({
        model: 'lightgcn',
        chosenBy: 'validation',
        metric: 'Recall@20',
        validation: { pinnerformer: 0.1952, lightgcn: 0.2126 },
      }),
    );
    expect(space.model).toBe('lightgcn');
    expect(describeRetrievalSpace(space)).toBe(
      'LightGCN (chosen on validation Recall@20: pinnerformer 0.1952, lightgcn 0.2126)',
    );
  });

  it('takes a bundle without the field as PinnerFormer, and says so', () => {
    const space = labRetrievalSpace(manifest());
    expect(space).toEqual({ model: 'pinnerformer', chosenBy: 'unrecorded', validation: {} });
    expect(describeRetrievalSpace(space)).toBe('PinnerFormer (bundle predates the choice)');
    expect(
      describeRetrievalSpace(
        labRetrievalSpace(manifest({ model: 'lightgcn', chosenBy: 'forced', metric: 'x', validation: {} })),
      ),
    ).toBe('LightGCN (forced by --retrieval)');
  });
});

describe('ranker contract (src/core/lab/external.ts)', () => {
  const contract = {
    inputs: [
      { name: 'x', dtype: 'float32' as const, shape: ['batch' as const, 3], description: '' },
      { name: 'c', dtype: 'float32' as const, shape: ['batch' as const, 2], description: '' },
    ],
    outputs: [
      { name: 'logits', dtype: 'float32' as const, shape: ['batch' as const, 4], description: '' },
      { name: 'probs', dtype: 'float32' as const, shape: ['batch' as const, 4], description: '' },
    ],
  };
  const graph = (patch: Partial<OnnxSignature> = {}): OnnxSignature => ({
    inputs: [
      { name: 'x', elemType: 1, dims: ['N', 3] },
      { name: 'c', elemType: 1, dims: [null, 2] },
    ],
    outputs: [{ name: 'probs', elemType: 1, dims: ['N', 4] }],
    initializers: new Set(),
    initializerTypes: new Set([1]),
    ops: new Set(['Gemm']),
    ...patch,
  });
  const check = (g: OnnxSignature) => () => checkRankerContract(g, contract, 'r.onnx');
  it('accepts any dynamic batch name, an unknown dim, and a graph without logits', () => {
    expect(check(graph())).not.toThrow();
  });
  it('refuses a wrong dtype, dimension, fixed batch, extra input or missing probs, naming it', () => {
    const input = (i: number, info: OnnxSignature['inputs'][number]) => {
      const inputs = graph().inputs;
      inputs[i] = info;
      return graph({ inputs });
    };
    expect(check(input(0, { name: 'x', elemType: 7, dims: ['N', 3] }))).toThrow(
      /^r.onnx: input "x" is int64, expected float32 \[batch, 3\]/,
    );
    expect(check(input(1, { name: 'c', elemType: 1, dims: ['N', 5] }))).toThrow(
      /input "c" has shape float32 \[N, 5\], expected float32 \[batch, 2\]/,
    );
    expect(check(input(0, { name: 'x', elemType: 1, dims: [200, 3] }))).toThrow(
      /input "x" has a fixed dimension 0 of 200, expected a dynamic batch dimension/,
    );
    expect(
      check(graph({ inputs: [...graph().inputs, { name: 'extra', elemType: 1, dims: ['N', 1] }] })),
    ).toThrow(/unexpected input "extra"/);
    expect(check(graph({ outputs: [{ name: 'scores', elemType: 1, dims: ['N', 4] }] }))).toThrow(
      /missing output "probs" \(expected float32 \[batch, 4\]; the graph's outputs: scores\)/,
    );
  });
});

describe("ranker contract: a per-user input ('users', the early-fusion sequence)", () => {
  const contract = {
    kind: 'ranker',
    role: 'student',
    inputs: [
      { name: 'x', dtype: 'float32' as const, shape: ['batch' as const, 4], description: '' },
      { name: 's', dtype: 'float32' as const, shape: ['users' as const, 4], description: '' },
    ],
    outputs: [{ name: 'probs', dtype: 'float32' as const, shape: ['batch' as const, 4], description: '' }],
  } as unknown as ModelEntry;
  /** x + s: broadcasts one user's row over the candidates, or adds one row per candidate. */
  const graph = (sequenceDim: Dim) => {
    const g = new GraphBuilder('contract');
    const sum = g.op('Add', [
      g.input('x', 'float32', ['batch', 4]),
      g.input('s', 'float32', [sequenceDim, 4]),
    ]);
    g.output(sum, 'probs', 'float32', ['batch', 4]);
    return { name: 'r.onnx', bytes: g.toBytes() };
  };
  const signature = (dims: OnnxSignature['inputs'][number]['dims']): OnnxSignature => ({
    inputs: [
      { name: 'x', elemType: 1, dims: ['N', 4] },
      { name: 's', elemType: 1, dims },
    ],
    outputs: [{ name: 'probs', elemType: 1, dims: ['N', 4] }],
    initializers: new Set(),
    initializerTypes: new Set([1]),
    ops: new Set(['Add']),
  });
  it('accepts a dynamic dimension or 1, and refuses another fixed size, naming it', () => {
    expect(() => checkRankerContract(signature(['U', 4]), contract, 'r.onnx')).not.toThrow();
    expect(() => checkRankerContract(signature([1, 4]), contract, 'r.onnx')).not.toThrow();
    expect(() => checkRankerContract(signature([200, 4]), contract, 'r.onnx')).toThrow(
      /input "s" has a fixed dimension 0 of 200, expected 1 or a dynamic dimension \(float32 \[users, 4\]\)/,
    );
  });
  it("is fed once for a graph that declares it per user, once per candidate for one that declares it 'batch'", () => {
    const shapes = (dim: Dim) => externalRankerEntry(graph(dim), contract).inputs.map((i) => i.shape);
    expect(shapes('users')).toEqual([
      ['batch', 4],
      ['users', 4],
    ]);
    expect(shapes('batch')).toEqual([
      ['batch', 4],
      ['batch', 4],
    ]);
  });
});

describe('edgerec lab run on the small real bundle', () => {
  let manifest: BundleManifest;
  beforeAll(async () => {
    // Builds test/generated/bundle/ when missing (~30 s) and its eval packs (a few seconds).
    await setupBundle();
    const { version } = JSON.parse(readFileSync(join(BUNDLE_DIR, 'latest.json'), 'utf8'));
    manifest = JSON.parse(readFileSync(join(BUNDLE_DIR, version, 'manifest.json'), 'utf8'));
  }, 300_000);

  it('reproduces the build-time metrics of the test window where both measure the same thing', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        BIN,
        'lab',
        'run',
        '--models',
        BUNDLE_DIR,
        '--split',
        'test',
        '--rankers',
        'fp32,int8',
        '--json',
        '--quiet',
      ],
      { maxBuffer: 1 << 26 },
    );
    const result = JSON.parse(stdout) as LabResult;
    expect(result.bundle).toBe(manifest.version);
    expect(result.runtime).toBe('node');
    expect(result.retrieval.model).toBe(manifest.retrieval?.model ?? 'pinnerformer');
    const row = (kind: string, variant: string) =>
      result.rows.find((r) => r.kind === kind && r.variant === variant)!;
    const close = (actual: Record<string, number>, expected: Record<string, number>, tolerance: number) => {
      for (const [k, v] of Object.entries(expected))
        expect(Math.abs(actual[k] - v), k).toBeLessThanOrEqual(tolerance);
    };
    // Retrieval with the f32 table = the manifest's fp32 encoder metrics: the same users (every evaluable
    // one fits under the cap), the same encoder input over the same table, the same ground truth. The
    // manifest rounds to 1e-6. (The manifest's *item table* metrics use the server's long-term PinnerFormer
    // vectors as queries, not the on-device encoder the lab runs, so they are not compared.)
    const encoder = manifest.encoders.find((e) => e.dtype === 'fp32')!;
    close(row('items', 'f32').metrics, encoder.metrics, 5e-7);
    expect(result.users).toBe(102);
    // Rankers: the same examples, labels and sessions; only the short-term embedding differs — the build
    // takes it from the distilled tfjs encoder (not shipped), the pack from its fp32 ONNX export (≤1e-5 apart).
    for (const [variant, form] of [
      ['fp32', undefined],
      ['int8-dq', 'dq'],
    ] as const) {
      const entry = manifest.rankers.find(
        (e) => e.role === 'student' && rankerOf(e) === variant && e.form === form,
      )!;
      close(row('ranker', variant).metrics, entry.metrics, 1e-5);
    }
    expect(result.examples).toBeGreaterThan(1000);
    // int8-qdq differs on purpose: the lab runs it as onnxruntime-web does (no QLinear fusion, see
    // src/train/lab/run.ts); the build's numbers come from onnxruntime-node's fused x86 integer kernels.
    expect(row('ranker', 'int8-qdq')).toBeDefined();
  });
});

describe('edgerec lab run --ranker-file: your own ranker and its edgerec quantize variants', () => {
  let dir: string;
  let fp32File: string;
  let version: string;
  let manifest: BundleManifest;
  beforeAll(async () => {
    await setupBundle();
    version = JSON.parse(readFileSync(join(BUNDLE_DIR, 'latest.json'), 'utf8')).version;
    manifest = JSON.parse(readFileSync(join(BUNDLE_DIR, version, 'manifest.json'), 'utf8')) as BundleManifest;
    const entry = manifest.rankers.find((e) => e.role === 'student' && e.dtype === 'fp32')!;
    dir = mkdtempSync(join(tmpdir(), 'edgerec-byo-'));
    // The bundle's student fp32 graph, exported as a researcher's "own" file.
    fp32File = join(dir, 'my-ranker.onnx');
    copyFileSync(join(BUNDLE_DIR, version, entry.file), fp32File);
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('evaluates the file and its quantized variants; the fp32 file equals the bundle’s fp32 row exactly', async () => {
    await run(process.execPath, [BIN, 'quantize', fp32File, '--out', join(dir, 'variants'), '--quiet']);
    const variants = ['fp16', 'int8-dq', 'int8-qdq'].map((v) => join(dir, 'variants', `my-ranker.${v}.onnx`));
    const { stdout } = await run(
      process.execPath,
      [
        BIN,
        'lab',
        'run',
        '--models',
        BUNDLE_DIR,
        '--split',
        'valid',
        '--items',
        'none',
        '--rankers',
        'fp32',
        '--ranker-file',
        fp32File,
        '--ranker-file',
        ...variants,
        '--json',
        '--quiet',
      ],
      { maxBuffer: 1 << 26 },
    );
    const result = JSON.parse(stdout) as LabResult;
    expect(result.failures).toEqual([]);
    expect(result.rows.map((r) => [r.source ?? 'bundle', r.variant, r.dtype, r.form ?? ''])).toEqual([
      ['bundle', 'fp32', 'fp32', ''],
      ['file', 'my-ranker.onnx', 'fp32', ''],
      ['file', 'my-ranker.fp16.onnx', 'fp16', ''],
      ['file', 'my-ranker.int8-dq.onnx', 'int8', 'dq'],
      ['file', 'my-ranker.int8-qdq.onnx', 'int8', 'qdq'],
    ]);
    const [bundleRow, fileRow, ...quantized] = result.rows;
    // The same graph on the same examples: the same numbers, bit for bit.
    expect(fileRow.metrics).toEqual(bundleRow.metrics);
    expect(fileRow.bytes).toBe(readFileSync(fp32File).length);
    expect(fileRow.speedup).toBe(1);
    for (const row of quantized) {
      expect(row.speedup).toBeCloseTo(fileRow.latency.p50 / row.latency.p50, 12);
      expect(Object.keys(row.metrics)).toEqual(Object.keys(bundleRow.metrics));
      // fp16 / int8 of the same graph: close to fp32 (int8-qdq is calibrated on random inputs here).
      for (const [k, v] of Object.entries(row.metrics))
        expect(Math.abs(v - bundleRow.metrics[k]), `${row.variant} ${k}`).toBeLessThan(0.05);
    }
    console.log(
      result.rows
        .map(
          (r) =>
            `${r.variant}: ${Object.entries(r.metrics)
              .map(([k, v]) => `${k} ${v.toFixed(6)}`)
              .join(', ')}`,
        )
        .join('\n'),
    );
  }, 120_000);

  /** `lab run` with only this ranker file: the failure (exit code, stderr), or undefined if it ran. */
  const refusedRankerFile = (file: string) =>
    run(process.execPath, [
      BIN,
      'lab',
      'run',
      '--models',
      BUNDLE_DIR,
      '--items',
      'none',
      '--rankers',
      'none',
      '--ranker-file',
      file,
      '--quiet',
    ]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );

  it('refuses a graph with a wrong input name, naming the input and what was expected', async () => {
    // The same graph with its input renamed (same length, so the protobuf stays valid).
    const bytes = readFileSync(fp32File);
    const bad = join(dir, 'renamed.onnx');
    writeFileSync(bad, Buffer.from(bytes.toString('latin1').replaceAll('user_long', 'user_lonx'), 'latin1'));
    const error = await refusedRankerFile(bad);
    expect(error?.code).toBe(2);
    expect(error?.stderr).toContain(
      'renamed.onnx: missing input "user_long" (expected float32 [batch, 64]; the graph\'s inputs: user_lonx, user_short, item, context)',
    );
  }, 60_000);

  it('refuses an early-fusion ranker as such: the eval packs hold no action sequences to feed it', async () => {
    const early = manifest.rankers.find(
      (e) => e.role === 'student' && e.dtype === 'fp32' && e.fusion === 'early',
    )!;
    const file = join(dir, 'my-early.onnx');
    copyFileSync(join(BUNDLE_DIR, version, early.file), file);
    const error = await refusedRankerFile(file);
    expect(error?.code).toBe(2);
    expect(error?.stderr).toContain(
      "my-early.onnx is an early-fusion ranker (it reads the user's action sequence): the lab scores late-fused rankers only",
    );
  }, 60_000);
});

function rankerOf(e: { dtype: string; form?: string }): string {
  return e.form ? `${e.dtype}-${e.form}` : e.dtype;
}
