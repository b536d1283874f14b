/**
 * onnxruntime-web in Chromium computes what onnxruntime-node computes, for every ranker and encoder variant
 * of a real bundle. test/browser/setup/bundle.global.ts builds the bundle (test/generated/bundle/) and
 * records onnxruntime-node's outputs (the `accurate` reference, see test/shared/ort-parity-inputs.ts) for
 * two input sets per model kind (a third for the early-fusion ranker: one user's sequence broadcast over
 * every candidate, as the engine feeds it); this file fetches the bundle over HTTP, verifies each file against the
 * manifest, runs the same inputs and compares, on four runs:
 *
 * - `wasm`: the `wasm` EP of `onnxruntime-web/wasm`, the build the engine loads when retrieval runs on the
 *   CPU (src/engine/onnx-runtime.ts);
 * - `wasm-gpubuild`: the `wasm` EP of `onnxruntime-web/webgpu`, the build it loads when retrieval runs on
 *   WebGPU (its models may still run on the wasm EP);
 * - `webgpu`: the `webgpu` EP of `onnxruntime-web/webgpu`, which is ORT's native WebGPU EP;
 * - `webgpu-jsep`: the `webgpu` EP of plain `onnxruntime-web`, which in 1.30 is still the older JSEP
 *   implementation (deprecated since 1.29). Its DequantizeLinear is wrong for per-tensor int8/uint8 input
 *   and for per-axis input with fewer than four channels (microsoft/onnxruntime#32578, fix in #32579; the
 *   native EP gets both right), so a variant with such a node — the rankers' int8 heads (N = 1) and all
 *   qdq activations — is asserted to be still broken there, and one without to match. The edge engine
 *   never runs JSEP (it imports `onnxruntime-web/webgpu` for its GPU sessions), so this watch of ORT's bug
 *   runs on three variants only (JSEP_WATCH), not all twenty: a third of this file's SwiftShader time.
 *
 * Each session is created with verbose logging, and the node placements ORT logs are checked: the wasm
 * run places every node on the CPU EP; the GPU runs place every node on the GPU EP except, in the qdq
 * form, QuantizeLinear, which has no kernel on either GPU EP and falls back to the CPU (DequantizeLinear
 * does not). Measured on SwiftShader, every variant, both input sets (the table printed at the end):
 *   wasm                 max |diff| 3.8e-6 (ranker-teacher-int8-dq), every variant
 *   webgpu, webgpu-jsep  max |diff| 3.8e-6 (ranker-teacher-fp32) outside the qdq form;
 *   webgpu, qdq          ≤ 9.5e-7, except one row of the encoder's real inputs: 7.0e-4 — one activation
 *                        landing on the other side of a QuantizeLinear rounding boundary (wasm, whose
 *                        fused integer kernels are node's, does not differ there).
 */
import type * as OrtWeb from 'onnxruntime-web';
import { afterAll, describe, expect, it } from 'vitest';
import { Bundle, httpBundleSource, type ModelEntry } from '../../src/core/bundle/index.ts';
import { type ExpectedFile, inputKind, type StoredFeeds, variantLabel } from '../shared/ort-parity-inputs.ts';

// ORT's wasm glue binds console.log/console.error when its module is evaluated, so the tee that collects
// its logs goes in first and the runtimes are imported dynamically after it.
const logLines: string[] = [];
let capturing = false;
const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const;
const originalConsole = Object.fromEntries(consoleMethods.map((m) => [m, console[m]])) as Pick<
  Console,
  (typeof consoleMethods)[number]
>;
/** The native WebGPU EP destroys its device when its last session is released, and says so (info). */
const BENIGN = /WebGPU device lost \(2\): Device was destroyed/;
for (const method of consoleMethods)
  console[method] = (...args: unknown[]) => {
    const line = args.map(String).join(' ');
    if (capturing) logLines.push(line);
    else if (!BENIGN.test(line)) originalConsole[method](...args);
  };

type Runtime = typeof OrtWeb;
const ortWeb: Runtime = await import('onnxruntime-web');
const ortWasm: Runtime = await import('onnxruntime-web/wasm');
const ortWebGpu: Runtime = await import('onnxruntime-web/webgpu');
const DIST = new URL('/node_modules/onnxruntime-web/dist/', location.origin).href;
for (const runtime of [ortWeb, ortWasm, ortWebGpu]) {
  // Vite pre-bundles each build into .vite/…/deps/ and rewrites their `new URL('….wasm', import.meta.url)`
  // to node_modules/onnxruntime-web/dist/, which it serves; said explicitly, so as not to rest on that.
  // Two threads: the page is cross-origin isolated, and the pthread workers load the pre-bundled module.
  runtime.env.wasm.wasmPaths = DIST;
  runtime.env.wasm.numThreads = 2;
  runtime.env.logLevel = 'verbose';
}

interface Run {
  name: 'wasm' | 'wasm-gpubuild' | 'webgpu' | 'webgpu-jsep';
  runtime: Runtime;
  ep: 'wasm' | 'webgpu';
  /** The name ORT's logs give the EP. */
  logName: string;
}
const RUNS: Run[] = [
  { name: 'wasm', runtime: ortWasm, ep: 'wasm', logName: 'CPUExecutionProvider' },
  { name: 'wasm-gpubuild', runtime: ortWebGpu, ep: 'wasm', logName: 'CPUExecutionProvider' },
  { name: 'webgpu', runtime: ortWebGpu, ep: 'webgpu', logName: 'WebGpuExecutionProvider' },
  { name: 'webgpu-jsep', runtime: ortWeb, ep: 'webgpu', logName: 'JsExecutionProvider' },
];

/** Largest |web − node| allowed on every output value (measured max 3.8e-6, see the header). */
const TOLERANCE = 1e-5;
/**
 * qdq on a GPU EP only: a batch row may differ by up to this much, one per input set — one activation
 * rounded to the neighbouring uint8 step (measured 7.0e-4); the other rows must still be within TOLERANCE.
 */
const QUANTIZATION_STEP_TOLERANCE = 1e-2;

/** Ops that may leave a GPU EP for the CPU: QuantizeLinear has no kernel on either (qdq form only). */
const CPU_FALLBACK_OPS = new Set(['QuantizeLinear']);

/** Variants JSEP's DequantizeLinear gets wrong (see the header); each is asserted to still be wrong. */
/**
 * The variants the JSEP watch runs on: one it gets right (fp32), one broken by the per-tensor int8 heads,
 * one by the qdq activations.
 */
const JSEP_WATCH = new Set(['encoder-student-fp32', 'ranker-student-int8-dq', 'encoder-student-int8-qdq']);

function jsepBroken(entry: ModelEntry): boolean {
  return entry.dtype === 'int8' && (entry.form === 'qdq' || entry.kind === 'ranker');
}

const BUNDLES = new URL('/test/generated/bundle/', location.origin);
const getJson = async <T>(url: URL): Promise<T> => {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
  return (await response.json()) as T;
};
const latest = await getJson<{ version: string }>(new URL('latest.json', BUNDLES));
const bundle = await Bundle.open(httpBundleSource(new URL(`${latest.version}/`, BUNDLES).href));
const expected = await getJson<ExpectedFile>(new URL('expected.json', BUNDLES));

interface Row {
  variant: string;
  run: Run['name'];
  /** max |web − accurate| over every output and input set. */
  maxDiff: number;
  /** Per input set, the rows of the batch whose max |diff| exceeds TOLERANCE. */
  offRows: number[];
  /** max |web − node's default options|, for the table. */
  vsDefault: number;
  cpuOps: string[];
}
const rows: Row[] = [];

afterAll(() => {
  for (const method of consoleMethods) console[method] = originalConsole[method];
  const header = `${'variant'.padEnd(26)}${'run'.padEnd(15)}${'max|diff|'.padEnd(11)}${'rows off'.padEnd(10)}${'vs default'.padEnd(12)}on CPU`;
  const lines = rows.map((r) => {
    const counts = new Map<string, number>();
    for (const op of r.cpuOps) counts.set(op, (counts.get(op) ?? 0) + 1);
    const cpu = [...counts].map(([op, n]) => `${op}×${n}`).join(', ') || '-';
    return `${r.variant.padEnd(26)}${r.run.padEnd(15)}${r.maxDiff.toExponential(2).padEnd(11)}${r.offRows.join('+').padEnd(10)}${r.vsDefault.toExponential(2).padEnd(12)}${cpu}`;
  });
  console.log([header, ...lines].join('\n'));
});

/** Node placements from ORT's verbose log of one session creation: EP name → op types. */
function placements(lines: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of lines) {
    const all = /All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    const some = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (all) {
      out.set(
        all[1],
        Array.from({ length: Number(all[2]) }, () => '*'),
      );
      current = undefined;
    } else if (some) {
      current = [];
      out.set(some[1], current);
    } else if (current) {
      const node = /VerifyEachNodeIsAssignedToAnEp\]\s+(\w+) \(/.exec(line);
      if (node) current.push(node[1]);
      else current = undefined;
    }
  }
  return out;
}

function tensors(runtime: Runtime, feeds: StoredFeeds): Record<string, OrtWeb.Tensor> {
  return Object.fromEntries(
    Object.entries(feeds).map(([name, { dims, data }]) => [
      name,
      new runtime.Tensor('float32', Float32Array.from(data), dims),
    ]),
  );
}

/** max |a − b| of each batch row (NaN counts as infinitely far). */
function rowMaxDiffs(a: Float32Array, b: number[], rows: number): number[] {
  const width = a.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let max = 0;
    for (let i = r * width; i < (r + 1) * width; i++) {
      const d = Math.abs(a[i] - b[i]);
      max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(max, d);
    }
    return max;
  });
}

async function runVariant(entry: ModelEntry, model: Uint8Array, run: Run): Promise<Row> {
  const label = variantLabel(entry);
  const want = expected.models.find((m) => m.label === label);
  if (!want) throw new Error(`expected.json has no ${label}`);
  logLines.length = 0;
  capturing = true;
  let session: OrtWeb.InferenceSession;
  try {
    session = await run.runtime.InferenceSession.create(model, {
      executionProviders: [run.ep],
      logSeverityLevel: 0,
      logVerbosityLevel: 0,
    });
  } finally {
    capturing = false;
  }
  const placed = placements(logLines);
  try {
    let maxDiff = 0;
    let vsDefault = 0;
    const offRows: number[] = [];
    for (const [k, set] of expected.inputs[inputKind(entry)].entries()) {
      capturing = true;
      let results: OrtWeb.InferenceSession.ReturnType;
      try {
        results = await session.run(tensors(run.runtime, set.feeds));
      } finally {
        capturing = false;
      }
      const rowDiffs = new Array<number>(expected.batch).fill(0);
      for (const spec of entry.outputs) {
        const got = results[spec.name];
        const ref = want.outputs.accurate[k][spec.name];
        expect(got.dims, `${label} ${run.name} ${set.name} ${spec.name}`).toEqual(ref.dims);
        const data = (await got.getData()) as Float32Array;
        rowMaxDiffs(data, ref.data, expected.batch).forEach((d, r) => {
          rowDiffs[r] = Math.max(rowDiffs[r], d);
        });
        const vs = rowMaxDiffs(data, want.outputs.default[k][spec.name].data, expected.batch);
        vsDefault = Math.max(vsDefault, ...vs);
        got.dispose();
      }
      maxDiff = Math.max(maxDiff, ...rowDiffs);
      offRows.push(rowDiffs.filter((d) => d > TOLERANCE).length);
    }
    const onGpu = run.ep === 'webgpu' ? (placed.get(run.logName) ?? []) : [];
    const cpuOps = run.ep === 'webgpu' ? (placed.get('CPUExecutionProvider') ?? []) : [];
    if (run.ep === 'webgpu') {
      expect(onGpu.length, `${label} on ${run.name}: nodes placed on ${run.logName}`).toBeGreaterThan(0);
      for (const op of cpuOps)
        expect(CPU_FALLBACK_OPS.has(op), `${label} on ${run.name}: ${op} fell back to the CPU`).toBe(true);
      expect(cpuOps.length > 0, `${label} on ${run.name}: CPU fallbacks`).toBe(entry.form === 'qdq');
    } else {
      expect([...placed.keys()], `${label} on ${run.name}: EPs with nodes`).toEqual(['CPUExecutionProvider']);
    }
    return { variant: label, run: run.name, maxDiff, offRows, vsDefault, cpuOps };
  } finally {
    capturing = true;
    try {
      await session.release();
    } finally {
      capturing = false;
    }
  }
}

describe('onnxruntime-web matches onnxruntime-node on every variant of a real bundle', () => {
  it('runs cross-origin isolated, on a WebGPU adapter, with the bundle the global setup described', async () => {
    expect(crossOriginIsolated).toBe(true);
    const adapter = await navigator.gpu?.requestAdapter();
    expect(adapter, 'navigator.gpu.requestAdapter()').toBeTruthy();
    expect(expected.version).toBe(bundle.manifest.version);
    // Teacher and student, late and early fusion, each fp32 / fp16 / int8-dq / int8-qdq.
    expect(bundle.manifest.rankers).toHaveLength(16);
    expect(bundle.manifest.rankers.filter((e) => e.fusion === 'early')).toHaveLength(8);
    expect(bundle.manifest.encoders).toHaveLength(4);
    const labels = [...bundle.manifest.rankers, ...bundle.manifest.encoders].map(variantLabel);
    expect(labels, 'every JSEP_WATCH variant is in the bundle').toEqual(
      expect.arrayContaining([...JSEP_WATCH]),
    );
  });

  for (const entry of [...bundle.manifest.rankers, ...bundle.manifest.encoders]) {
    const label = variantLabel(entry);
    it(label, async () => {
      // bundle.file checks the length and SHA-256 against the manifest.
      const model = await bundle.file(entry);
      for (const run of RUNS) {
        if (run.name === 'webgpu-jsep' && !JSEP_WATCH.has(label)) continue;
        const row = await runVariant(entry, model, run);
        rows.push(row);
        const what = `${label} on ${run.name}`;
        if (run.name === 'webgpu-jsep' && jsepBroken(entry)) {
          expect
            .soft(row.maxDiff, `${what} (known broken; if fixed, update jsepBroken)`)
            .toBeGreaterThan(100 * TOLERANCE);
        } else if (run.ep === 'webgpu' && entry.form === 'qdq') {
          expect.soft(row.maxDiff, what).toBeLessThanOrEqual(QUANTIZATION_STEP_TOLERANCE);
          for (const off of row.offRows)
            expect.soft(off, `${what}: rows off by over ${TOLERANCE}`).toBeLessThanOrEqual(1);
        } else {
          expect.soft(row.maxDiff, what).toBeLessThanOrEqual(TOLERANCE);
        }
      }
    });
  }

  it('ran wasm on two threads (ORT drops to one, with a warning, where it cannot)', () => {
    for (const runtime of [ortWeb, ortWasm, ortWebGpu]) expect(runtime.env.wasm.numThreads).toBe(2);
  });
});
