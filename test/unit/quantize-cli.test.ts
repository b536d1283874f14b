import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/core/random.ts';
import { GraphBuilder, readModel } from '../../src/train/onnx/index.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/edgerec.mjs');

async function edgerec(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const work = mkdtempSync(join(tmpdir(), 'edgerec-quantize-'));
const random = new Random(3);
const normals = (n: number, scale: number) => Float32Array.from({ length: n }, () => random.normal() * scale);

/** A ranker head over an item-embedding lookup: int64 ids → Gather → ReduceMean, concatenated with features. */
function writeModel(file: string, withIds: boolean): string {
  const g = new GraphBuilder('head');
  let x = g.input('features', 'float32', ['batch', 24]);
  if (withIds) {
    const ids = g.input('ids', 'int64', ['batch', 3]);
    const table = g.constant('items', normals(50 * 8, 1), [50, 8]);
    const pooled = g.op('ReduceMean', [g.op('Gather', [table, ids], { axis: 0 })], {
      axes: [1],
      keepdims: 0,
    });
    x = g.op('Concat', [x, pooled], { axis: 1 });
  }
  const inDim = withIds ? 32 : 24;
  const h = g.op('Relu', [g.dense(x, normals(inDim * 64, 0.25), normals(64, 0.1), inDim, 64, 'hidden')]);
  g.output(
    g.op('Sigmoid', [g.dense(h, normals(64 * 3, 0.2), normals(3, 0.1), 64, 3, 'heads')]),
    'heads',
    'float32',
    ['batch', 3],
  );
  const path = join(work, file);
  writeFileSync(path, g.toBytes());
  return path;
}

describe('edgerec quantize', () => {
  it('writes three variants beside the model and reports all four as one JSON object', async () => {
    const model = writeModel('ranker.onnx', false);
    const result = await edgerec('quantize', model, '--samples', '32', '--seed', '4', '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(report.model).toBe(model);
    expect(report.calibration).toEqual({ source: 'random-normal', runs: 1, samples: 32, seed: 4 });
    expect(report.variants.map((v: { dtype: string; form?: string }) => [v.dtype, v.form])).toEqual([
      ['fp32', undefined],
      ['fp16', undefined],
      ['int8', 'dq'],
      ['int8', 'qdq'],
    ]);
    expect(report.variants.map((v: { file: string }) => v.file)).toEqual(
      ['ranker.onnx', 'ranker.fp16.onnx', 'ranker.int8-dq.onnx', 'ranker.int8-qdq.onnx'].map((f) =>
        join(work, f),
      ),
    );
    for (const variant of report.variants) {
      expect(existsSync(variant.file)).toBe(true);
      const bytes = readFileSync(variant.file);
      expect(variant.bytes).toBe(bytes.length);
      expect(variant.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(variant.ratio).toBeCloseTo(bytes.length / report.variants[0].bytes, 3);
    }
    const [fp32, fp16, dq, qdq] = report.variants;
    expect(fp32.maxAbsDiff).toBe(0);
    expect(fp16.maxAbsDiff).toBeGreaterThan(0);
    expect(fp16.maxAbsDiff).toBeLessThan(1e-2);
    expect(fp16.ratio).toBeLessThan(0.6);
    expect(dq.ratio).toBeLessThan(fp16.ratio);
    for (const int8 of [dq, qdq]) {
      expect(int8.maxAbsDiff).toBeGreaterThan(fp16.maxAbsDiff);
      expect(int8.maxAbsDiff).toBeLessThan(0.05);
    }
  });

  it('refuses an int64 input without a calibration file, then calibrates from one into --out', async () => {
    const model = writeModel('with-ids.fp32.onnx', true);
    const refused = await edgerec('quantize', model, '--json');
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/input ids is int64.*--calibration/),
    ]);

    const calibration = join(work, 'calibration.json');
    const rows = 16;
    const feeds = [0, 1].map(() => ({
      features: { dims: [rows, 24], data: Array.from(normals(rows * 24, 1)) },
      ids: { dims: [rows, 3], data: Array.from({ length: rows * 3 }, () => random.int(50)) },
    }));
    writeFileSync(calibration, JSON.stringify(feeds));
    const out = join(work, 'variants');
    const result = await edgerec('quantize', model, '--calibration', calibration, '--out', out, '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.calibration).toEqual({ source: calibration, runs: 2 });
    expect(report.variants[3].file).toBe(join(out, 'with-ids.int8-qdq.onnx'));
    // The Gather table stays float32 in the int8 variants; only the two dense kernels become int8.
    const dq = readModel(readFileSync(report.variants[2].file));
    const types = Object.fromEntries(dq.graph!.initializer!.map((t) => [t.name, t.dataType]));
    expect(types).toMatchObject({ items: 1, 'hidden/kernel_quantized': 3, 'heads/kernel_quantized': 3 });
    expect(report.variants[3].maxAbsDiff).toBeLessThan(0.05);

    writeFileSync(
      calibration,
      JSON.stringify([{ features: feeds[0].features, ids: { dims: [rows, 3], data: [1] } }]),
    );
    const bad = await edgerec('quantize', model, '--calibration', calibration);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/calibration\.json: \[0\]\.ids: data has 1 values, dims \[16, 3\] need 48\n$/);
  });

  it('exits 2 with one line for a file that is not ONNX, one missing, and unsupported ops', async () => {
    const text = join(work, 'notes.onnx');
    writeFileSync(text, 'these are my notes, not a model\n');
    const g = new GraphBuilder('conv');
    const x = g.input('x', 'float32', [1, 1, 4, 4]);
    g.output(g.op('Conv', [x, g.constant('w', normals(9, 1), [1, 1, 3, 3])]), 'y', 'float32', [1, 1, 2, 2]);
    const conv = join(work, 'conv.onnx');
    writeFileSync(conv, g.toBytes());
    // Independent runs, started together: each spends most of its time loading tsx and onnxruntime.
    const [notOnnx, missing, unsupported] = await Promise.all([
      edgerec('quantize', text),
      edgerec('quantize', join(work, 'missing.onnx')),
      edgerec('quantize', conv, '--json'),
    ]);
    expect(notOnnx.code).toBe(2);
    expect(notOnnx.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/notes\.onnx: not an ONNX model/),
    ]);

    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing\.onnx: no such file\n$/);

    expect(unsupported.code).toBe(2);
    expect(unsupported.stdout).toBe('');
    expect(unsupported.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/conv\.onnx: unsupported op type Conv \(supported: MatMul/),
    ]);
    expect(existsSync(join(work, 'conv.fp16.onnx'))).toBe(false);
  });
});
