/**
 * What the browser benchmark runs over, made in Node before Chromium starts (and reused while the recipe
 * is unchanged):
 *
 * - one benchmark bundle per catalog size N in `test/generated/bench/<N>/` — the real trained models of a
 *   real bundle (its ranker and encoder ONNX files, byte for byte) around a **synthetic** catalog: N seeded
 *   random unit rows as the item table (f32, and f16 / i8 made with the bundle codecs), catalog ids
 *   `b0 … b<N-1>`, titles, topics and statistics borrowed from random items of the real catalog, and a
 *   valid content-addressed manifest written by `publishBundle`;
 * - the onnxruntime-web peers for it, built with `GraphBuilder` from the bundle's own tables (so a peer reads
 *   exactly the rows edgerec reads): `gemm-topk.onnx`, Gemm(query [1 × dim], table [N × dim], transB) then
 *   TopK(K = k); `matmul-topk.onnx`, MatMul(query, tableᵀ [dim × N], transposed here once) then TopK;
 *   `int8-topk.onnx`, the bundle's i8 table: DynamicQuantizeLinear(query ⊙ column scales) →
 *   MatMulInteger(uint8 query, int8 tableᵀ [dim × N]) → Cast → × row scales → TopK.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Bundle,
  type BundleCatalog,
  type BundleManifest,
  type ItemTableEntry,
  type ModelEntry,
} from '../../../src/core/bundle/index.ts';
import { encodeF16, quantizeTableI8 } from '../../../src/core/quantize/index.ts';
import { Random } from '../../../src/core/random.ts';
import { referenceTopK } from '../../../src/core/retrieval/index.ts';
import { BundleFiles, LATEST_FILE, latestVersion, publishBundle } from '../../../src/train/bundle/publish.ts';
import { GraphBuilder } from '../../../src/train/onnx/index.ts';
import { nodeDirectorySource } from '../../shared/bundle-fixture.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BENCH_DIR = join(ROOT, 'test', 'generated', 'bench');
const TEST_BUNDLES = join(ROOT, 'test', 'generated', 'bundle');
const DEFAULT_BUNDLES = join(ROOT, 'models');

/** Bump when what a recipe produces changes, so that old artifacts are rebuilt. */
const GENERATOR = 1;
const TABLE_SEED = 42;
/** Bump when the peer models change (they are rebuilt from the bundle, which is kept). */
const PEERS_GENERATOR = 1;
export const ORT_MODELS = {
  gemm: 'gemm-topk.onnx',
  matmul: 'matmul-topk.onnx',
  int8: 'int8-topk.onnx',
} as const;
export type OrtGraph = keyof typeof ORT_MODELS;

export interface BaseBundle {
  /** Folder holding latest.json. */
  folder: string;
  version: string;
  bundle: Bundle;
}

export interface BenchArtifacts {
  count: number;
  dim: number;
  k: number;
  /** The bundles folder (with latest.json), relative to the repository root, with a trailing slash. */
  bundlesPath: string;
  version: string;
  /** The ORT peer models, relative to the repository root. */
  ortModelPaths: Record<OrtGraph, string>;
  reused: boolean;
}

/**
 * The bundle whose models the benchmark bundles borrow: `--base DIR` (a folder with latest.json), else the
 * default bundle in models/ when one is built, else the browser tests' small bundle in
 * test/generated/bundle/, built by their global setup when missing.
 */
export async function openBase(dir: string | undefined, log: (s: string) => void): Promise<BaseBundle> {
  let folder = dir ? resolve(dir) : undefined;
  if (!folder) {
    if (latestVersion(DEFAULT_BUNDLES)) folder = DEFAULT_BUNDLES;
    else {
      if (!latestVersion(TEST_BUNDLES)) {
        log('no bundle in models/ or test/generated/bundle/: building the browser tests’ small one (~30 s)');
        const { default: setup } = await import('../../browser/setup/bundle.global.ts');
        await setup();
      }
      folder = TEST_BUNDLES;
    }
  }
  const version = latestVersion(folder);
  if (!version) throw new Error(`${folder}: no ${LATEST_FILE} naming a bundle`);
  const bundle = await Bundle.open(nodeDirectorySource(join(folder, version)));
  return { folder, version, bundle };
}

/** Seeded random unit rows (normal, then normalized): row r is the same for every count. */
export function unitRows(count: number, dim: number, seed = TABLE_SEED): Float32Array {
  const random = new Random(seed);
  const values = new Float32Array(count * dim);
  for (let r = 0; r < count; r++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const x = random.normal();
      values[r * dim + d] = x;
      norm += x * x;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) values[r * dim + d] *= inv;
  }
  return values;
}

const bytesOf = (a: Float32Array | Uint16Array | Int8Array) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The benchmark bundle and ORT model of `count` items: reused when its recipe matches, else rebuilt. */
export async function prepareCatalog(
  base: BaseBundle,
  count: number,
  k: number,
  log: (s: string) => void,
): Promise<BenchArtifacts> {
  const dim = base.bundle.manifest.dim;
  const folder = join(BENCH_DIR, String(count));
  const recipeFile = join(folder, 'recipe.json');
  const recipe = JSON.stringify({
    generator: GENERATOR,
    base: base.version,
    count,
    dim,
    k,
    seed: TABLE_SEED,
  });
  const done = async (version: string, reused: boolean): Promise<BenchArtifacts> => ({
    count,
    dim,
    k,
    bundlesPath: `${relative(ROOT, folder)}/`,
    version,
    ortModelPaths: await peerModels(folder, version, k, log),
    reused,
  });
  const existing = latestVersion(folder);
  if (existing && existsSync(recipeFile) && readFileSync(recipeFile, 'utf8') === recipe)
    return done(existing, true);

  const started = performance.now();
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  const values = unitRows(count, dim);
  const version = await writeBundle(base, folder, values, count, dim);
  writeFileSync(recipeFile, recipe);
  log(
    `built the ${count.toLocaleString('en')}-item benchmark bundle ${version} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return done(version, false);
}

/** The ORT peer models of one benchmark bundle, made from its own f32 and i8 tables when missing. */
async function peerModels(
  folder: string,
  version: string,
  k: number,
  log: (s: string) => void,
): Promise<Record<OrtGraph, string>> {
  const recipeFile = join(folder, 'peers.json');
  const recipe = JSON.stringify({ generator: PEERS_GENERATOR, version, k });
  const paths = Object.fromEntries(
    Object.entries(ORT_MODELS).map(([graph, file]) => [graph, relative(ROOT, join(folder, file))]),
  ) as Record<OrtGraph, string>;
  const fresh =
    existsSync(recipeFile) &&
    readFileSync(recipeFile, 'utf8') === recipe &&
    Object.values(ORT_MODELS).every((file) => existsSync(join(folder, file)));
  if (fresh) return paths;
  const started = performance.now();
  const bundle = await Bundle.open(nodeDirectorySource(join(folder, version)));
  const f32 = await bundle.itemTable('f32');
  const { count, dim } = f32;
  const values = f32.values as Float32Array;
  writeFileSync(join(folder, ORT_MODELS.gemm), gemmTopK(values, count, dim, k));
  writeFileSync(join(folder, ORT_MODELS.matmul), matmulTopK(values, count, dim, k));
  const i8 = await bundle.itemTable('i8');
  writeFileSync(
    join(folder, ORT_MODELS.int8),
    int8TopK(i8.values as Int8Array, i8.scales!, i8.columnScales!, count, dim, k),
  );
  writeFileSync(recipeFile, recipe);
  log(
    `built the ORT peer models of ${count.toLocaleString('en')} items in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return paths;
}

async function writeBundle(
  base: BaseBundle,
  folder: string,
  values: Float32Array,
  count: number,
  dim: number,
): Promise<string> {
  const source = base.bundle.manifest;
  const files = new BundleFiles();

  const i8 = quantizeTableI8(values, dim);
  const tables: { dtype: ItemTableEntry['dtype']; bytes: Uint8Array }[] = [
    { dtype: 'f32', bytes: bytesOf(values) },
    { dtype: 'f16', bytes: bytesOf(encodeF16(values)) },
    { dtype: 'i8', bytes: bytesOf(i8.values) },
  ];
  const items: ItemTableEntry[] = tables.map(({ dtype, bytes }) => {
    const entry: ItemTableEntry = {
      ...files.add(`items-${dtype}`, 'bin', bytes),
      dtype,
      count,
      dim,
      metrics: {},
    };
    if (dtype === 'i8') {
      entry.scales = files.add('items-i8-scales', 'f32', bytesOf(i8.scales));
      entry.columnScales = Array.from(i8.columnScales);
    }
    return entry;
  });

  // The real models, byte for byte, under the same content-addressed names.
  const copy = async (entry: ModelEntry): Promise<ModelEntry> => {
    const match = /^(.*)\.[0-9a-f]{12}\.([^.]+)$/.exec(entry.file);
    if (!match) throw new Error(`${entry.file}: not a content-addressed name`);
    const ref = files.add(match[1], match[2], await base.bundle.file(entry));
    if (ref.file !== entry.file || ref.sha256 !== entry.sha256)
      throw new Error(`${entry.file}: copy differs`);
    return { ...entry, ...ref };
  };
  const rankers = await Promise.all(source.rankers.map(copy));
  const encoders = await Promise.all(source.encoders.map(copy));

  // Titles, topics and statistics of random real items, so that context features look like real ones.
  const real = await base.bundle.catalog();
  const random = new Random(TABLE_SEED + 1);
  const from = Int32Array.from({ length: count }, () => random.int(real.ids.length));
  const catalog: BundleCatalog = {
    ids: Array.from({ length: count }, (_, i) => `b${i}`),
    titles: Array.from(from, (j, i) => `${real.titles[j]} (b${i})`),
    topics: Array.from(from, (j) => real.topics[j]),
    positives: Array.from(from, (j) => real.positives[j]),
    impressions: Array.from(from, (j) => real.impressions[j]),
    firstSeen: Array.from(from, (j) => real.firstSeen[j]),
  };
  const catalogRef = files.add('catalog', 'json', new TextEncoder().encode(JSON.stringify(catalog)));

  const created = new Date();
  const manifest: BundleManifest = {
    ...source,
    version: files.version(created),
    created: created.toISOString(),
    dataset: {
      ...source.dataset,
      name: `bench-synthetic-${count} (models of ${source.version}, ${source.dataset.name})`,
      items: count,
    },
    items,
    catalog: { ...catalogRef, count },
    rankers,
    encoders,
  };
  publishBundle(folder, manifest, files);
  return manifest.version;
}

/** Gemm(query [1 × dim], table [count × dim], transB) → scores [1 × count] → TopK(k): values, indices. */
export function gemmTopK(values: Float32Array, count: number, dim: number, k: number): Uint8Array {
  const g = new GraphBuilder('gemm_topk');
  const query = g.input('query', 'float32', [1, dim]);
  const table = g.constant('items', values, [count, dim]);
  const scores = g.op('Gemm', [query, table], { transB: 1 }, 'scores');
  const kValue = g.constant('k', new BigInt64Array([BigInt(k)]), [1]);
  const [top, indices] = g.opMulti('TopK', [scores, kValue], 2, { axis: -1, largest: 1, sorted: 1 }, 'topk');
  g.output(top, 'values', 'float32', [1, k]);
  g.output(indices, 'indices', 'int64', [1, k]);
  return g.toBytes({
    docString: `exact top-${k} over ${count} × ${dim} f32 rows (edgerec browser benchmark baseline)`,
  });
}

/** The exact f32 top-k (referenceTopK over the bundle's f32 table) of each query: what recall_vs_f32 is against. */
export async function exactTopK(a: BenchArtifacts, queries: Float32Array[]): Promise<Int32Array[]> {
  const bundle = await Bundle.open(nodeDirectorySource(join(ROOT, a.bundlesPath, a.version)));
  const table = await bundle.itemTable('f32');
  return queries.map((q) => referenceTopK(table, q, a.k).indices);
}

/** Row-major [rows × cols] → [cols × rows]. */
function transpose<T extends Float32Array | Int8Array>(values: T, rows: number, cols: number): T {
  const out = new (values.constructor as { new (n: number): T })(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/** MatMul(query [1 × dim], table pre-transposed to [dim × count]) → TopK(k). */
export function matmulTopK(values: Float32Array, count: number, dim: number, k: number): Uint8Array {
  const g = new GraphBuilder('matmul_topk');
  const query = g.input('query', 'float32', [1, dim]);
  const table = g.constant('items_t', transpose(values, count, dim), [dim, count]);
  const scores = g.op('MatMul', [query, table], undefined, 'scores');
  const kValue = g.constant('k', new BigInt64Array([BigInt(k)]), [1]);
  const [top, indices] = g.opMulti('TopK', [scores, kValue], 2, { axis: -1, largest: 1, sorted: 1 }, 'topk');
  g.output(top, 'values', 'float32', [1, k]);
  g.output(indices, 'indices', 'int64', [1, k]);
  return g.toBytes({
    docString: `exact top-${k} over ${count} × ${dim} f32 rows, table pre-transposed (edgerec browser benchmark peer)`,
  });
}

/**
 * The int8 peer over the bundle's i8 table (values, per-row scales, column scales):
 * DynamicQuantizeLinear(query ⊙ columnScales) → MatMulInteger(uint8 query [1 × dim], its zero point,
 * int8 tableᵀ [dim × count]) → Cast(float) → × rowScales → TopK(k). The query's own scale is left out: it is
 * positive and common to every row, so the order does not change.
 */
export function int8TopK(
  values: Int8Array,
  scales: Float32Array,
  columnScales: Float32Array,
  count: number,
  dim: number,
  k: number,
): Uint8Array {
  const g = new GraphBuilder('int8_topk');
  const query = g.input('query', 'float32', [1, dim]);
  const scaled = g.op('Mul', [query, g.constant('column_scales', columnScales, [dim])], undefined, 'scaled');
  const [q, , zero] = g.opMulti('DynamicQuantizeLinear', [scaled], 3, undefined, 'quantize');
  const table = g.int8Constant('items_t', transpose(values, count, dim), [dim, count]);
  const dots = g.op('MatMulInteger', [q, table, zero], undefined, 'dots');
  const asFloat = g.op('Cast', [dots], { to: 1 }, 'as_float');
  const scores = g.op('Mul', [asFloat, g.constant('row_scales', scales, [count])], undefined, 'scores');
  const kValue = g.constant('k', new BigInt64Array([BigInt(k)]), [1]);
  const [top, indices] = g.opMulti('TopK', [scores, kValue], 2, { axis: -1, largest: 1, sorted: 1 }, 'topk');
  g.output(top, 'values', 'float32', [1, k]);
  g.output(indices, 'indices', 'int64', [1, k]);
  return g.toBytes({
    docString: `top-${k} over ${count} × ${dim} int8 rows with MatMulInteger (edgerec browser benchmark peer)`,
  });
}
