import type {
  BundleCatalog,
  BundleManifest,
  ItemDtype,
  ItemTableEntry,
  Metrics,
  ModelEntry,
  RankerFusion,
} from '../../core/bundle/index.ts';
import type { Dataset } from '../../core/dataset.ts';
import { InputError } from '../../core/errors.ts';
import { buildSplit } from '../../core/eval/split.ts';
import { decodeF16, dequantizeTableI8, encodeF16, quantizeTableI8 } from '../../core/quantize/index.ts';
import { Random } from '../../core/random.ts';
import { CONTEXT_FEATURES, DEFAULT_UTILITY_WEIGHTS } from '../../core/ranking/index.ts';
import type { LearningChoiceOptions } from '../../core/replay/index.ts';
import { readRunManifest } from '../pipeline.ts';
import { itemStatsBefore } from '../ranker/examples.ts';
import { HEADS } from '../ranker/model.ts';
import { headAucs } from '../ranker/train.ts';
import { loadUserSpace } from '../space/index.ts';
import { initTraining } from '../tf/backend.ts';
import { type EdgeOptions, type EdgeStageProgress, edgeWindows, trainEdgeModels } from './edge-models.ts';
import { type SnapshotTraining, trainFeatureSnapshot } from './feature-snapshot.ts';
import { chooseBundleLearning } from './learning-choice.ts';
import { encoderUsers, rankerMetrics, rankerProbabilities, retrievalMetrics } from './metrics.ts';
import { BundleFiles, publishBundle } from './publish.ts';
import { modelVariants } from './variants.ts';

export interface BundleProgress {
  stage: EdgeStageProgress['stage'] | 'snapshot' | 'export' | 'metrics' | 'learning' | 'publish';
  done: number;
  total: number;
  note?: string;
}

export interface BuildBundleOptions {
  checkpointDir: string;
  outDir: string;
  dataset: Dataset;
  edge?: Partial<EdgeOptions>;
  /**
   * How to train the ranker's feature snapshot (global models before its training window); `false`:
   * none, the ranker trains on the served models' (in-sample) features, as bundles before it did.
   */
  snapshot?: SnapshotTraining | false;
  /**
   * How the build chooses on-device learning on the validation window (users, seed, grid); `false`: no
   * choice, the manifest has no `learning` block and the engine keeps its built-in defaults.
   */
  learningChoice?: LearningChoiceOptions | false;
  onProgress?: (p: BundleProgress) => void;
}

export interface BundleReportVariant {
  kind: 'items' | 'ranker' | 'encoder';
  role: 'teacher' | 'student' | '-';
  fusion?: RankerFusion;
  dtype: string;
  form?: string;
  file: string;
  bytes: number;
  sha256: string;
  params?: number;
  metrics: Metrics;
}

export interface BundleReport {
  version: string;
  dir: string;
  seconds: number;
  variants: BundleReportVariant[];
  training: Record<string, unknown>;
}

// A metric with no value (the AUC of a head without positives, e.g. close-ups on MovieLens) is left out:
// the manifest holds numbers only.
const round = (m: Metrics): Metrics =>
  Object.fromEntries(
    Object.entries(m)
      .filter(([, v]) => Number.isFinite(v))
      .map(([k, v]) => [k, Math.round(v * 1e6) / 1e6]),
  );

/**
 * Turns a trained run (the temporal protocol's global models) into a bundle: distils the compact encoder,
 * trains the teacher ranker and its student, exports and quantizes every model, scores every variant on
 * the test window once, and publishes `<outDir>/<version>/` atomically.
 */
export async function buildBundle(options: BuildBundleOptions): Promise<BundleReport> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const run = readRunManifest(options.checkpointDir);
  if (run.protocol !== 'temporal') {
    throw new InputError(
      `${options.checkpointDir} was trained under the ${run.protocol} protocol; a bundle needs --protocol temporal, ` +
        'so that the ranker validates and is scored on time windows the global models never saw',
    );
  }
  if (run.refit) {
    throw new InputError(
      `${options.checkpointDir} holds a PinnerFormer refit on the validation window (edgerec train --refit); ` +
        'a bundle validates its rankers there with the served features, so train the run without --refit',
    );
  }
  const { dataset } = options;
  const seed = options.edge?.seed ?? run.seed;
  // The space the browser scans and the server serves: the run's validation choice (run.json `retrieval`).
  const teacher = await loadUserSpace(options.checkpointDir);
  // The edge models train on tfjs-wasm whichever space it is (LightGCN's loads without tfjs).
  await initTraining();
  const { items, dim } = teacher;
  const snapshot =
    options.snapshot === false
      ? undefined
      : await trainFeatureSnapshot(
          dataset,
          run,
          options.checkpointDir,
          edgeWindows(dataset).trainStart,
          options.snapshot ?? {},
          ({ stage, done, total, note }) =>
            progress({ stage: 'snapshot', done, total, note: `${stage}${note ? ` ${note}` : ''}` }),
        );
  const edge = trainEdgeModels(
    dataset,
    teacher,
    items,
    { seed, distillAlpha: 0.5, ...options.edge },
    progress,
    snapshot,
  );
  const split = buildSplit(dataset, { protocol: 'temporal', positives: run.positives });
  const files = new BundleFiles();
  const report: BundleReportVariant[] = [];

  // Item tables: the retrieval metrics of each dtype use the server's long-term users as of the test window.
  const numItems = dataset.items.size;
  const i8 = quantizeTableI8(items, dim);
  const f16 = encodeF16(items);
  const tables: { dtype: ItemDtype; bytes: Uint8Array; decoded: Float32Array; scales?: Uint8Array }[] = [
    { dtype: 'f32', bytes: bytesOf(items), decoded: items },
    { dtype: 'f16', bytes: bytesOf(f16), decoded: decodeF16(f16) },
    {
      dtype: 'i8',
      bytes: bytesOf(i8.values),
      decoded: dequantizeTableI8(i8.values, i8.scales, i8.columnScales, dim),
      scales: bytesOf(i8.scales),
    },
  ];
  const itemEntries: ItemTableEntry[] = tables.map((t, k) => {
    progress({ stage: 'metrics', done: k, total: tables.length, note: `items ${t.dtype}` });
    const metrics = round(retrievalMetrics(split, edge.testUsers, t.decoded, dim, t.dtype));
    const ref = files.add(`items-${t.dtype}`, 'bin', t.bytes);
    const entry: ItemTableEntry = { ...ref, dtype: t.dtype, count: numItems, dim, metrics };
    if (t.scales) {
      entry.scales = files.add('items-i8-scales', 'f32', t.scales);
      entry.columnScales = Array.from(i8.columnScales);
    }
    report.push({ kind: 'items', role: '-', dtype: t.dtype, ...ref, metrics });
    return entry;
  });

  progress({ stage: 'export', done: 0, total: 1 });
  const variants = await modelVariants(edge, items, new Random(seed));
  progress({ stage: 'export', done: 1, total: 1 });
  const rankers: ModelEntry[] = [];
  const encoders: ModelEntry[] = [];
  for (const [k, v] of variants.entries()) {
    const fusion = v.fusion === 'early' ? '-early' : '';
    const label = `${v.kind}${fusion}-${v.role}-${v.dtype}${v.form ? `-${v.form}` : ''}`;
    progress({ stage: 'metrics', done: k, total: variants.length, note: label });
    const metrics = round(
      v.kind === 'ranker'
        ? rankerMetrics(
            await rankerProbabilities(v.bytes, edge.data.test, v.fusion === 'early'),
            edge.data.test,
          )
        : retrievalMetrics(
            split,
            await encoderUsers(
              v.bytes,
              edge.encoder.encoder.shape,
              edge.sequences,
              edge.windows.testStart,
              items,
            ),
            items,
            dim,
            label,
          ),
    );
    const ref = files.add(label, 'onnx', v.bytes);
    const entry: ModelEntry = {
      ...ref,
      kind: v.kind,
      role: v.role,
      dtype: v.dtype,
      ...(v.form ? { form: v.form } : {}),
      params: v.params,
      inputs: v.inputs,
      outputs: v.outputs,
      ...(v.heads ? { heads: v.heads } : {}),
      ...(v.fusion ? { fusion: v.fusion } : {}),
      providers: v.providers,
      metrics,
    };
    (v.kind === 'ranker' ? rankers : encoders).push(entry);
    report.push({
      kind: v.kind,
      role: v.role,
      ...(v.fusion ? { fusion: v.fusion } : {}),
      dtype: v.dtype,
      ...(v.form ? { form: v.form } : {}),
      ...ref,
      params: v.params,
      metrics,
    });
  }

  const stats = itemStatsBefore(dataset.log, numItems, Number.POSITIVE_INFINITY);
  const ids = dataset.items.toArray();
  const catalog: BundleCatalog = {
    ids: [...ids],
    titles: ids.map((id, i) => dataset.catalog?.titles[i] ?? id),
    topics: Array.from({ length: numItems }, (_, i) => dataset.catalog?.topics[i] ?? []),
    positives: stats.map((s) => s.positives),
    impressions: stats.map((s) => s.impressions),
    firstSeen: stats.map((s) => s.firstSeen),
  };
  const catalogRef = files.add('catalog', 'json', new TextEncoder().encode(JSON.stringify(catalog)));
  const created = new Date();
  let learningSeconds: number | undefined;
  const manifest: BundleManifest = {
    format: 1,
    version: files.version(created),
    created: created.toISOString(),
    dataset: {
      name: dataset.name,
      format: dataset.format,
      users: dataset.users.size,
      items: numItems,
      events: dataset.log.length,
      protocol: run.protocol,
      seed,
    },
    dim,
    items: itemEntries,
    catalog: { ...catalogRef, count: numItems },
    rankers,
    encoders,
    utility: { weights: { ...DEFAULT_UTILITY_WEIGHTS } },
    context: [...CONTEXT_FEATURES] as string[],
    ...(run.retrieval ? { retrieval: run.retrieval } : {}),
    defaultRanker: {
      fusion: edge.fusion,
      validation: {
        late: roundScore(edge.rankers.late.student.validation),
        early: roundScore(edge.rankers.early.student.validation),
      },
    },
  };
  if (options.learningChoice !== false) {
    const started = process.cpuUsage();
    manifest.learning = await chooseBundleLearning(manifest, files, options.checkpointDir, dataset, {
      ...options.learningChoice,
      onProgress: (setting, done, total) => progress({ stage: 'learning', done, total, note: setting }),
    });
    const used = process.cpuUsage(started);
    learningSeconds = Math.round((used.user + used.system) / 1e5) / 10;
  }
  progress({ stage: 'publish', done: 0, total: 1 });
  const dir = publishBundle(options.outDir, manifest, files);
  progress({ stage: 'publish', done: 1, total: 1 });
  // Reference point for the rankers: the retrieval score u_long · item alone, same examples.
  const test = edge.data.test;
  const dot = new Float32Array(test.examples.size * HEADS);
  for (let n = 0; n < test.examples.size; n++) {
    let s = 0;
    const u = test.examples.user[n] * dim;
    const it = test.examples.item[n] * dim;
    for (let d = 0; d < dim; d++) s += test.userLong[u + d] * test.items[it + d];
    dot.fill(s, n * HEADS, (n + 1) * HEADS);
  }
  return {
    version: manifest.version,
    dir,
    seconds: (performance.now() - started) / 1000,
    variants: report,
    training: {
      ...(run.timeCut ? { globalModelsTimeCut: run.timeCut } : {}),
      encoder: {
        bestEpoch: edge.encoder.bestEpoch,
        validationCosine: edge.encoder.validationCosine,
        epochs: edge.encoder.history.length,
        seconds: edge.encoder.seconds,
        ...(edge.encoder.timeCut ? { timeCut: edge.encoder.timeCut } : {}),
      },
      rankers: Object.fromEntries(
        Object.entries(edge.rankers).map(([fusion, pair]) => [
          fusion,
          Object.fromEntries(
            (['teacher', 'student'] as const).map((role) => [
              role,
              {
                bestEpoch: pair[role].bestEpoch,
                validationAuc: pair[role].validation,
                epochs: pair[role].history.length,
                seconds: pair[role].seconds,
                ...(pair[role].timeCut ? { timeCut: pair[role].timeCut } : {}),
              },
            ]),
          ),
        ]),
      ),
      defaultRanker: manifest.defaultRanker,
      ...(manifest.learning ? { learning: { ...manifest.learning, cpuSeconds: learningSeconds } } : {}),
      rankerTrainFeatures: edge.trainFeatures,
      retrievalScoreBaseline: round(headAucs(dot, test.examples.labels)),
      examples: {
        train: edge.data.train.examples.size,
        valid: edge.data.valid.examples.size,
        test: edge.data.test.examples.size,
      },
    },
  };
}

const roundScore = (x: number) => Math.round(x * 1e6) / 1e6;

function bytesOf(a: Float32Array | Uint16Array | Int8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
