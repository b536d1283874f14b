/**
 * The quantization lab's evaluation: one driver, run by the Node CLI (onnxruntime-node, the reference
 * scan) and by the browser worker (onnxruntime-web, the WebGPU / WASM kernels), so both compute their
 * numbers with the same code and differ only in the runtime that executes the models and the scan.
 *
 * Item-table rows: the fp32 compact encoder over each pack user's newest actions (their rows read from
 * the table under test, as on the device) → the user's query → exact top-k over that table → HR / NDCG /
 * Recall against the window's items; one latency sample = one top-k scan. Ranker rows: the pack's
 * examples in batches of `rankerBatch` (the engine's candidate count) → probabilities → AUC per head and
 * utility NDCG@10; one latency sample = one batch. The ranker's item features always come from the f32
 * table, so a ranker row measures the ranker's quantization alone.
 */
import type { Bundle, DecodedItemTable } from '../bundle/loader.ts';
import type {
  BundleManifest,
  ItemDtype,
  ModelDtype,
  ModelEntry,
  ModelRole,
  RetrievalBlend,
  RetrievalModelName,
} from '../bundle/manifest.ts';
import { InputError } from '../errors.ts';
import { halfToFloat, type TopKResult } from '../retrieval/reference.ts';
import { encoderInput, type RowWriter } from '../sequence/encoder-input.ts';
import { externalRankerEntry, type LabRankerFile } from './external.ts';
import {
  type LatencyStats,
  latencyStats,
  RETRIEVAL_KS,
  RetrievalAccumulator,
  rankerMetricsOf,
} from './metrics.ts';
import { type EvalPack, type LabSplit, packTargets, packWindow } from './pack.ts';

export type LabFeeds = Record<string, { data: Float32Array; dims: number[] }>;

export interface LabSession {
  run(feeds: LabFeeds, output: string): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface LabRetriever {
  /** What runs the scan (`webgpu`, `wasm`, `js`, `reference`). */
  readonly backend: string;
  topK(query: Float32Array, k: number): Promise<TopKResult> | TopKResult;
  dispose(): void;
}

/** What executes the models and the scan: onnxruntime-node + the reference scan, or the browser's. */
export interface LabRuntime {
  name: 'node' | 'browser';
  session(entry: ModelEntry, bytes: Uint8Array, device: string): Promise<LabSession>;
  retriever(table: DecodedItemTable, device: string): Promise<LabRetriever>;
  /** Whether a model variant is meant for a device (the manifest's providers in the browser). */
  supports(entry: ModelEntry, device: string): boolean;
  now(): number;
}

export interface LabRunOptions {
  items: ItemDtype[];
  rankers: ModelDtype[];
  /** Runtime-specific: `webgpu` / `wasm` in the browser, `cpu` in Node. */
  devices: string[];
  /** Timing passes over the pack (metrics come from the first; all passes give the same). Default 1. */
  runs?: number;
  /** Ranker role (default student: what the engine ships). */
  role?: ModelRole;
  /** Candidates retrieved per query (default 200, at most the table's rows). */
  k?: number;
  /** Ranker rows per run (default 200, the engine's candidates). */
  rankerBatch?: number;
  /** Users per encoder run (default 64). */
  encoderBatch?: number;
  /**
   * A researcher's own ranker graphs, evaluated like the bundle's on every device (after its rankers),
   * each labelled by its `name`; checked against the bundle's ranker contract first (InputError).
   */
  rankerFiles?: LabRankerFile[];
}

export interface LabRow {
  kind: 'items' | 'ranker';
  /** `f32`, `i8`, `fp32`, `int8-dq`, …; a ranker file's name (`my-ranker.int8-dq.onnx`). */
  variant: string;
  /** `file`: a caller's ranker graph (`rankerFiles`), not the bundle's; dtype / form read from the graph. */
  source?: 'file';
  dtype: ItemDtype | ModelDtype;
  form?: string;
  device: string;
  /** What actually ran (a retriever may fall back from WebGPU to the CPU). */
  backend: string;
  /** Bytes downloaded for the variant (an i8 table with its row scales). */
  bytes: number;
  metrics: Record<string, number>;
  /** Milliseconds per `unit`. */
  latency: LatencyStats;
  unit: string;
  /**
   * p50 of the same device's f32 (tables) or fp32 (rankers) row ÷ this row's p50; for a ranker file, the
   * fp32 file of its family (`x.onnx` / `x.fp32.onnx` for `x.int8-dq.onnx`), else the first fp32 file,
   * else the first file.
   */
  speedup: number | null;
}

export interface LabResult {
  format: 1;
  runtime: 'node' | 'browser';
  bundle: string;
  /**
   * The global model whose space the item tables are in (LightGCN or PinnerFormer) and the validation scores
   * that chose it, so a row of the lab says which model's table it measured.
   */
  retrieval: LabRetrievalSpace;
  split: LabSplit;
  users: number;
  examples: number;
  runs: number;
  k: number;
  rankerBatch: number;
  role: ModelRole;
  created: string;
  rows: LabRow[];
  /** Variants that could not run, with why. */
  failures: string[];
}

export interface LabRetrievalSpace {
  model: RetrievalModelName;
  chosenBy: NonNullable<BundleManifest['retrieval']>['chosenBy'] | 'unrecorded';
  metric?: string;
  validation: Partial<Record<RetrievalModelName, number>>;
  blend?: RetrievalBlend;
}

/** A bundle without `retrieval` predates the choice: its tables are PinnerFormer's. */
export function labRetrievalSpace(manifest: BundleManifest): LabRetrievalSpace {
  const { retrieval } = manifest;
  if (!retrieval) return { model: 'pinnerformer', chosenBy: 'unrecorded', validation: {} };
  return { ...retrieval, validation: { ...retrieval.validation } };
}

/** One line naming the item tables' model and why, for the CLI and the lab page. */
export function describeRetrievalSpace(space: LabRetrievalSpace): string {
  const name =
    space.model === 'lightgcn'
      ? 'LightGCN'
      : space.model === 'blend'
        ? `a PinnerFormer–LightGCN blend${space.blend ? ` (w ${space.blend.weight})` : ''}`
        : 'PinnerFormer';
  const scores = Object.entries(space.validation)
    .map(([model, value]) => `${model} ${value?.toFixed(4)}`)
    .join(', ');
  if (space.chosenBy === 'validation') return `${name} (chosen on validation ${space.metric}: ${scores})`;
  if (space.chosenBy === 'forced') return `${name} (forced by --retrieval)`;
  if (space.chosenBy === 'only-candidate') return `${name} (the only model trained)`;
  return `${name} (bundle predates the choice)`;
}

export interface LabProgress {
  done: number;
  total: number;
  label: string;
}

/** Writes item `item` of any table dtype as float32 (exactly as the engine's `writeItemRow`). */
export function tableRowWriter(table: DecodedItemTable): RowWriter {
  const { dim } = table;
  if (table.dtype === 'f32') {
    const values = table.values as Float32Array;
    return (item, out, offset) => out.set(values.subarray(item * dim, (item + 1) * dim), offset);
  }
  if (table.dtype === 'f16') {
    const values = table.values as Uint16Array;
    return (item, out, offset) => {
      for (let d = 0; d < dim; d++) out[offset + d] = halfToFloat(values[item * dim + d]);
    };
  }
  const values = table.values as Int8Array;
  const scales = table.scales!;
  const columns = table.columnScales;
  return (item, out, offset) => {
    const scale = scales[item];
    for (let d = 0; d < dim; d++)
      out[offset + d] = values[item * dim + d] * scale * (columns ? columns[d] : 1);
  };
}

export const rankerVariant = (e: Pick<ModelEntry, 'dtype' | 'form'>) =>
  e.form ? `${e.dtype}-${e.form}` : e.dtype;

const ENCODER_OUTPUT = 'user';
const RANKER_OUTPUT = 'probs';

/** Encoder feeds for pack users [from, to), their rows read from `table`. */
export function encoderFeedsOf(pack: EvalPack, from: number, to: number, table: DecodedItemTable): LabFeeds {
  const windows = [];
  for (let u = from; u < to; u++) windows.push(packWindow(pack, u));
  const input = encoderInput(windows, pack.encoderLength, pack.dim, tableRowWriter(table));
  const { size, length, dim } = input;
  return {
    items: { data: input.items, dims: [size, length, dim] },
    actions: { data: input.actions, dims: [size, length, input.actions.length / (size * length)] },
    time: { data: input.time, dims: [size, length, input.time.length / (size * length)] },
    mask: { data: input.mask, dims: [size, length] },
  };
}

/** Ranker feeds of examples [from, to) of the pack, item rows from the f32 table. */
export function rankerFeedsOf(pack: EvalPack, from: number, to: number, items: Float32Array): LabFeeds {
  const { dim, contextDim, examples } = pack;
  const size = to - from;
  const userLong = new Float32Array(size * dim);
  const userShort = new Float32Array(size * dim);
  const item = new Float32Array(size * dim);
  for (let k = 0; k < size; k++) {
    const n = from + k;
    userLong.set(pack.userLong.subarray(examples.user[n] * dim, (examples.user[n] + 1) * dim), k * dim);
    userShort.set(
      pack.userShort.subarray(examples.session[n] * dim, (examples.session[n] + 1) * dim),
      k * dim,
    );
    item.set(items.subarray(examples.item[n] * dim, (examples.item[n] + 1) * dim), k * dim);
  }
  return {
    user_long: { data: userLong, dims: [size, dim] },
    user_short: { data: userShort, dims: [size, dim] },
    item: { data: item, dims: [size, dim] },
    context: {
      data: examples.context.slice(from * contextDim, to * contextDim),
      dims: [size, contextDim],
    },
  };
}

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Runs the lab over a bundle and its pack; rows in the order devices × (tables, then rankers). */
export async function runLab(
  bundle: Bundle,
  pack: EvalPack,
  runtime: LabRuntime,
  options: LabRunOptions,
  onProgress: (p: LabProgress) => void = () => {},
): Promise<LabResult> {
  const { manifest } = bundle;
  if (pack.bundle !== manifest.version)
    throw new InputError(
      `the ${pack.split} eval pack was built for bundle ${pack.bundle}, not ${manifest.version} (rebuild: edgerec lab pack)`,
    );
  const runs = Math.max(1, Math.floor(options.runs ?? 1));
  const role = options.role ?? 'student';
  const rankerBatch = options.rankerBatch ?? 200;
  const encoderBatch = options.encoderBatch ?? 64;
  const count = manifest.items[0]?.count ?? 0;
  const k = Math.min(options.k ?? 200, count);
  if (k < RETRIEVAL_KS[RETRIEVAL_KS.length - 1])
    throw new InputError(`k must be at least ${RETRIEVAL_KS[RETRIEVAL_KS.length - 1]}`);
  const users = pack.users.length;
  const examples = pack.examples.size;
  const batches = Math.ceil(examples / rankerBatch);
  const encoderChunks = Math.ceil(users / encoderBatch);
  const failures: string[] = [];

  // The plan, so the progress bar knows its total.
  type Planned =
    | { kind: 'items'; device: string; dtype: ItemDtype }
    | { kind: 'ranker'; device: string; entry: ModelEntry; bytes?: Uint8Array };
  const plan: Planned[] = [];
  // The eval pack holds no action sequences, so the lab scores the late-fused rankers only.
  const lateRankers = manifest.rankers.filter((e) => (e.fusion ?? 'late') === 'late');
  const earlyRankers = manifest.rankers.filter((e) => e.fusion === 'early');
  const files = rankerFiles(options.rankerFiles ?? [], lateRankers, role, manifest.version, earlyRankers);
  for (const device of options.devices) {
    for (const dtype of options.items) {
      if (manifest.items.some((t) => t.dtype === dtype)) plan.push({ kind: 'items', device, dtype });
      else failures.push(`items ${dtype}: not in bundle ${manifest.version}`);
    }
    for (const dtype of options.rankers) {
      const entries = lateRankers
        .filter((e) => e.role === role && e.dtype === dtype)
        .sort((a, b) => (a.form ?? '').localeCompare(b.form ?? ''));
      const usable = entries.filter((e) => runtime.supports(e, device));
      for (const e of entries)
        if (!usable.includes(e))
          failures.push(
            `ranker ${role} ${rankerVariant(e)} on ${device}: the bundle lists it for ${e.providers.join(', ')} only`,
          );
      if (entries.length === 0) failures.push(`ranker ${role} ${dtype}: not in bundle ${manifest.version}`);
      for (const entry of usable) plan.push({ kind: 'ranker', device, entry });
    }
    for (const { entry, bytes } of files) {
      if (runtime.supports(entry, device)) plan.push({ kind: 'ranker', device, entry, bytes });
      else
        failures.push(
          `ranker file ${entry.file} on ${device}: ${rankerVariant(entry)} graphs run on ${entry.providers.join(', ')} only (as the bundle's)`,
        );
    }
  }
  const unitsOf = (p: Planned) => (p.kind === 'items' ? encoderChunks + users * runs : batches * runs);
  const total = plan.reduce((s, p) => s + unitsOf(p), 0);
  let done = 0;
  let reported = -1;
  const step = Math.max(1, Math.floor(total / 200));
  const advance = (n: number, label: string) => {
    done += n;
    if (done - reported >= step || done === total) {
      reported = done;
      onProgress({ done, total, label });
    }
  };
  onProgress({ done: 0, total, label: 'loading' });

  const tables = new Map<ItemDtype, Promise<DecodedItemTable>>();
  const table = (dtype: ItemDtype) => {
    let t = tables.get(dtype);
    if (!t) {
      t = bundle.itemTable(dtype);
      tables.set(dtype, t);
    }
    return t;
  };
  const encoderEntry = manifest.encoders.find((e) => e.role === 'student' && e.dtype === 'fp32');
  let encoderBytes: Promise<Uint8Array> | undefined;
  const encoders = new Map<string, LabSession>();

  const rows: LabRow[] = [];
  for (const p of plan) {
    const label =
      p.kind === 'items'
        ? `items ${p.dtype} on ${p.device}`
        : p.bytes
          ? `ranker file ${p.entry.file} on ${p.device}`
          : `ranker ${rankerVariant(p.entry)} on ${p.device}`;
    try {
      if (p.kind === 'items') {
        if (!encoderEntry) throw new InputError(`bundle ${manifest.version} has no fp32 student encoder`);
        const t = await table(p.dtype);
        let encoder = encoders.get(p.device);
        if (!encoder) {
          encoderBytes ??= bundle.file(encoderEntry);
          encoder = await runtime.session(encoderEntry, await encoderBytes, p.device);
          encoders.set(p.device, encoder);
        }
        const queries = new Float32Array(users * pack.dim);
        for (let from = 0; from < users; from += encoderBatch) {
          const to = Math.min(users, from + encoderBatch);
          queries.set(await encoder.run(encoderFeedsOf(pack, from, to, t), ENCODER_OUTPUT), from * pack.dim);
          for (let u = from; u < to; u++)
            if (pack.windows.offsets[u + 1] === pack.windows.offsets[u])
              queries.fill(0, u * pack.dim, (u + 1) * pack.dim);
          advance(1, label);
        }
        const retriever = await runtime.retriever(t, p.device);
        try {
          const accumulator = new RetrievalAccumulator();
          const samples: number[] = [];
          if (users > 0) await retriever.topK(queries.subarray(0, pack.dim), k); // warm-up
          for (let r = 0; r < runs; r++) {
            for (let u = 0; u < users; u++) {
              const query = queries.subarray(u * pack.dim, (u + 1) * pack.dim);
              const started = runtime.now();
              const result = await retriever.topK(query, k);
              samples.push(runtime.now() - started);
              if (r === 0) accumulator.add(result.indices, new Set(packTargets(pack, u)));
              advance(1, label);
            }
          }
          const entry = manifest.items.find((x) => x.dtype === p.dtype)!;
          rows.push({
            kind: 'items',
            variant: p.dtype,
            dtype: p.dtype,
            device: p.device,
            backend: retriever.backend,
            bytes: entry.bytes + (entry.scales?.bytes ?? 0),
            metrics: accumulator.means(),
            latency: latencyStats(samples),
            unit: `top-${k} scan of ${count} rows`,
            speedup: null,
          });
        } finally {
          retriever.dispose();
        }
      } else {
        const items = (await table('f32')).values as Float32Array;
        const feeds: LabFeeds[] = [];
        for (let from = 0; from < examples; from += rankerBatch)
          feeds.push(rankerFeedsOf(pack, from, Math.min(examples, from + rankerBatch), items));
        const session = await runtime.session(p.entry, p.bytes ?? (await bundle.file(p.entry)), p.device);
        try {
          const probs = new Float32Array(examples * pack.heads.length);
          const samples: number[] = [];
          if (feeds.length > 0) await session.run(feeds[0], RANKER_OUTPUT); // warm-up
          for (let r = 0; r < runs; r++) {
            for (const [b, f] of feeds.entries()) {
              const started = runtime.now();
              const out = await session.run(f, RANKER_OUTPUT);
              samples.push(runtime.now() - started);
              if (r === 0) probs.set(out, b * rankerBatch * pack.heads.length);
              advance(1, label);
            }
          }
          rows.push({
            kind: 'ranker',
            variant: p.bytes ? p.entry.file : rankerVariant(p.entry),
            ...(p.bytes ? { source: 'file' as const } : {}),
            dtype: p.entry.dtype,
            ...(p.entry.form ? { form: p.entry.form } : {}),
            device: p.device,
            backend: p.device,
            bytes: p.entry.bytes,
            metrics: rankerMetricsOf(
              probs,
              pack.examples.labels,
              pack.examples.session,
              manifest.utility.weights,
            ),
            latency: latencyStats(samples),
            unit: `batch of ${Math.min(rankerBatch, examples)} rows`,
            speedup: null,
          });
        } finally {
          await session.release();
        }
      }
    } catch (error) {
      if (error instanceof InputError) throw error;
      failures.push(`${label}: ${describe(error)}`);
      done += 0;
    }
  }
  for (const session of encoders.values()) await session.release().catch(() => {});
  onProgress({ done: total, total, label: 'done' });
  return {
    format: 1,
    runtime: runtime.name,
    bundle: manifest.version,
    retrieval: labRetrievalSpace(manifest),
    split: pack.split,
    users,
    examples,
    runs,
    k,
    rankerBatch,
    role,
    created: new Date().toISOString(),
    rows: withSpeedups(rows),
    failures,
  };
}

/** `x.onnx`, `x.fp32.onnx`, `x.int8-dq.onnx` (what `edgerec quantize` writes) → `x`. */
export function rankerFileStem(name: string): string {
  return name
    .replace(/^.*[\\/]/, '')
    .replace(/\.onnx$/i, '')
    .replace(/\.(fp32|fp16|int8-dq|int8-qdq)$/i, '');
}

/**
 * Checks every ranker file against the contract of the bundle's `role` rankers; names must be unique. A
 * file that breaks it but follows an `unscorable` ranker's contract (early fusion) is refused as such.
 */
function rankerFiles(
  files: LabRankerFile[],
  rankers: ModelEntry[],
  role: ModelRole,
  version: string,
  unscorable: ModelEntry[] = [],
): { entry: ModelEntry; bytes: Uint8Array }[] {
  if (files.length === 0) return [];
  const contract =
    rankers.find((e) => e.role === role && e.dtype === 'fp32') ?? rankers.find((e) => e.role === role);
  if (!contract)
    throw new InputError(`bundle ${version} has no ${role} ranker whose contract a file could follow`);
  const seen = new Set<string>();
  return files.map((file) => {
    if (seen.has(file.name)) throw new InputError(`two ranker files are named ${file.name}`);
    seen.add(file.name);
    try {
      return { entry: externalRankerEntry(file, contract), bytes: file.bytes };
    } catch (error) {
      const early = unscorable.find((e) => e.role === role);
      if (error instanceof InputError && early && followsContract(file, early))
        throw new InputError(
          `${file.name} is an early-fusion ranker (it reads the user's action sequence): the lab scores late-fused rankers only, since its eval packs hold no action sequences`,
        );
      throw error;
    }
  });
}

function followsContract(file: LabRankerFile, contract: ModelEntry): boolean {
  try {
    externalRankerEntry(file, contract);
    return true;
  } catch {
    return false;
  }
}

/** The row a row's speed-up is measured against (see LabRow.speedup). */
function baselineOf(row: LabRow, rows: LabRow[]): LabRow | undefined {
  const peers = rows.filter((b) => b.kind === row.kind && b.device === row.device);
  if (row.source !== 'file')
    return peers.find((b) => b.source !== 'file' && b.variant === (row.kind === 'items' ? 'f32' : 'fp32'));
  const files = peers.filter((b) => b.source === 'file');
  const stem = rankerFileStem(row.variant);
  return (
    files.find((b) => b.dtype === 'fp32' && rankerFileStem(b.variant) === stem) ??
    files.find((b) => b.dtype === 'fp32') ??
    files[0]
  );
}

/**
 * Fills `speedup`: the p50 of the same kind and device's f32 / fp32 row over the row's own p50 (ranker
 * files: against their fp32 file, see LabRow.speedup).
 */
export function withSpeedups(rows: LabRow[]): LabRow[] {
  return rows.map((row) => {
    const base = baselineOf(row, rows);
    const speedup = base && row.latency.p50 > 0 ? base.latency.p50 / row.latency.p50 : null;
    return { ...row, speedup };
  });
}
