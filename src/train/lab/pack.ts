/**
 * Builds the quantization lab's evaluation packs (`src/core/lab/pack.ts`) from a trained run and the
 * bundle made from it: the same windows, ground truth and ranker examples the bundle's build-time metrics
 * use (`src/train/bundle/build.ts`), for the validation or the test window, capped at N users and M
 * examples (whole sessions, seeded), so a browser can reproduce the metrics without the training data.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bundle, RANKER_HEADS } from '../../core/bundle/index.ts';
import type { Dataset } from '../../core/dataset.ts';
import { InputError } from '../../core/errors.ts';
import { historyFor } from '../../core/eval/harness.ts';
import { buildSplit } from '../../core/eval/split.ts';
import { userItemsOf } from '../../core/interactions.ts';
import {
  type EvalPack,
  encodeEvalPack,
  LAB_INDEX_FILE,
  LAB_PACK_FORMAT,
  type LabIndex,
  type LabIndexEntry,
  type LabSplit,
  parseLabIndex,
} from '../../core/lab/index.ts';
import { Random } from '../../core/random.ts';
import { CONTEXT_DIM } from '../../core/ranking/index.ts';
import { encoderInput, tableRows } from '../../core/sequence/index.ts';
import { assertBundleData } from '../bundle/data-check.ts';
import { edgeWindows } from '../bundle/edge-models.ts';
import { countBefore, longTermSnapshot } from '../bundle/snapshots.ts';
import { loadDataset } from '../data/load.ts';
import { createSession, runOnce } from '../onnx/run.ts';
import { actionSequences } from '../pinnerformer/index.ts';
import type { ActionSequence } from '../pinnerformer/sequences.ts';
import { readRunManifest } from '../pipeline.ts';
import { buildExamples } from '../ranker/examples.ts';
import { loadUserSpace } from '../space/index.ts';
import { directorySource, resolveBundleDir } from './source.ts';

export const DEFAULT_MAX_USERS = 1000;
export const DEFAULT_MAX_EXAMPLES = 20_000;

export interface EvalPackOptions {
  checkpointDir: string;
  /** A bundles folder (`models/`, its latest bundle) or one bundle's folder. */
  bundleDir: string;
  split: LabSplit | LabSplit[];
  maxUsers?: number;
  maxExamples?: number;
  seed?: number;
  /** The run's data set, when the caller has it loaded. */
  dataset?: Dataset;
  onProgress?: (stage: string) => void;
}

export interface EvalPackReport {
  dir: string;
  bundle: string;
  packs: (LabIndexEntry & { split: LabSplit; path: string })[];
  seconds: number;
}

function writeAtomic(file: string, bytes: Uint8Array | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}

/** Builds (and writes) the packs of one or both splits; returns where they went. */
export async function buildEvalPack(options: EvalPackOptions): Promise<EvalPackReport> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const maxUsers = options.maxUsers ?? DEFAULT_MAX_USERS;
  const maxExamples = options.maxExamples ?? DEFAULT_MAX_EXAMPLES;
  const seed = options.seed ?? 0;
  const splits = Array.isArray(options.split) ? options.split : [options.split];
  const dir = resolveBundleDir(options.bundleDir);
  const bundle = await Bundle.open(directorySource(dir));
  const { manifest } = bundle;
  const run = readRunManifest(options.checkpointDir);
  if (run.protocol !== 'temporal')
    throw new InputError(
      `${options.checkpointDir}: an eval pack needs a temporal-protocol run, not ${run.protocol}`,
    );
  progress('data');
  const dataset = options.dataset ?? (await loadDataset(run.data, run.dataFormat as never));
  assertBundleData(manifest, dataset, run.data);
  const dim = manifest.dim;
  const encoderEntry = bundle.model('encoder', 'student', 'fp32');
  const encoderLength = Number(encoderEntry.inputs.find((i) => i.name === 'items')?.shape[1]);
  const items = (await bundle.itemTable('f32')).values as Float32Array;
  const windows = edgeWindows(dataset);
  const split = buildSplit(dataset, { protocol: 'temporal', positives: run.positives });
  const sequences = actionSequences(dataset.log, dataset.users.size, dataset.hasTimestamps);
  progress('model');
  // The run's retrieval space (PinnerFormer or LightGCN's fold-in): the one the bundle's table is in.
  const teacher = await loadUserSpace(options.checkpointDir);
  const encoderBytes = await bundle.file(encoderEntry);

  // The ranker examples of each window, drawn as trainEdgeModels draws them: one Random, windows in order.
  const random = new Random(manifest.dataset.seed);
  const bounds: [number, number][] = [
    [windows.trainStart, windows.validStart],
    [windows.validStart, windows.testStart],
    [windows.testStart, windows.end],
  ];
  progress('examples');
  const exampleSets = bounds.map(([from, to]) =>
    buildExamples(dataset.log, dataset.users.size, dataset.items.size, { from, to }, random),
  );

  const labDir = join(dir, 'lab');
  mkdirSync(labDir, { recursive: true });
  const indexFile = join(dir, LAB_INDEX_FILE);
  let index: LabIndex = { format: LAB_PACK_FORMAT, bundle: manifest.version, packs: {} };
  if (existsSync(indexFile)) {
    try {
      const old = parseLabIndex(readFileSync(indexFile, 'utf8'), indexFile);
      if (old.bundle === manifest.version) index = old;
    } catch {
      // A broken index is rewritten.
    }
  }
  const report: EvalPackReport['packs'] = [];
  for (const which of splits) {
    progress(`pack ${which}`);
    const stage = which;
    const [from, to] = which === 'valid' ? bounds[1] : bounds[2];
    const targets = which === 'valid' ? split.valid : split.test;
    const history = historyFor(split, stage);
    const evaluable: number[] = [];
    for (let u = 0; u < split.numUsers; u++)
      if (targets.offsets[u + 1] > targets.offsets[u] && history.offsets[u + 1] > history.offsets[u])
        evaluable.push(u);
    let users = evaluable;
    if (users.length > maxUsers) {
      users = [...evaluable];
      new Random(seed ^ 0x1ab5eed).shuffle(users);
      users = users.slice(0, maxUsers).sort((a, b) => a - b);
    }
    const windowOffsets = new Int32Array(users.length + 1);
    const wItems: number[] = [];
    const wActions: number[] = [];
    const wTs: number[] = [];
    const targetOffsets = new Int32Array(users.length + 1);
    const tItems: number[] = [];
    users.forEach((u, k) => {
      const s = sequences[u];
      const end = countBefore(s.ts, from);
      for (let i = Math.max(0, end - encoderLength); i < end; i++) {
        wItems.push(s.items[i]);
        wActions.push(s.actions[i]);
        wTs.push(s.ts[i]);
      }
      windowOffsets[k + 1] = wItems.length;
      for (const item of userItemsOf(targets, u)) tItems.push(item);
      targetOffsets[k + 1] = tItems.length;
    });

    const all = exampleSets[which === 'valid' ? 1 : 2];
    const keepSession = sampleSessions(all.session, all.size, maxExamples, seed);
    const kept: number[] = [];
    for (let n = 0; n < all.size; n++) if (keepSession.has(all.session[n])) kept.push(n);
    const userRow = new Map<number, number>();
    const sessionRow = new Map<number, number>();
    for (const n of kept) {
      if (!userRow.has(all.user[n])) userRow.set(all.user[n], userRow.size);
      if (!sessionRow.has(all.session[n])) sessionRow.set(all.session[n], sessionRow.size);
    }
    const snapshot = longTermSnapshot(teacher, sequences, from);
    const userLong = new Float32Array(userRow.size * dim);
    for (const [u, row] of userRow) userLong.set(snapshot.subarray(u * dim, (u + 1) * dim), row * dim);
    const sessionList = [...sessionRow.keys()].map((s) => all.sessions[s]);
    const userShort = await sessionEmbeddings(
      encoderBytes,
      encoderLength,
      dim,
      sequences,
      sessionList,
      items,
    );
    const size = kept.length;
    const pack: EvalPack = {
      format: LAB_PACK_FORMAT,
      bundle: manifest.version,
      split: which,
      dim,
      encoderLength,
      contextDim: CONTEXT_DIM,
      heads: [...RANKER_HEADS],
      window: { from, to },
      seed,
      available: { users: evaluable.length, examples: all.size },
      created: new Date().toISOString(),
      users: Int32Array.from(users),
      windows: {
        offsets: windowOffsets,
        items: Int32Array.from(wItems),
        actions: Uint8Array.from(wActions),
        ts: Float64Array.from(wTs),
      },
      targets: { offsets: targetOffsets, items: Int32Array.from(tItems) },
      examples: {
        size,
        user: Int32Array.from(kept, (n) => userRow.get(all.user[n])!),
        session: Int32Array.from(kept, (n) => sessionRow.get(all.session[n])!),
        item: Int32Array.from(kept, (n) => all.item[n]),
        context: Float32Array.from(
          { length: size * CONTEXT_DIM },
          (_, i) => all.context[kept[Math.floor(i / CONTEXT_DIM)] * CONTEXT_DIM + (i % CONTEXT_DIM)],
        ),
        labels: Uint8Array.from(
          { length: size * RANKER_HEADS.length },
          (_, i) =>
            all.labels[
              kept[Math.floor(i / RANKER_HEADS.length)] * RANKER_HEADS.length + (i % RANKER_HEADS.length)
            ],
        ),
      },
      userLong,
      userShort,
    };
    const bytes = encodeEvalPack(pack);
    const file = `${which}.bin`;
    writeAtomic(join(labDir, file), bytes);
    const entry: LabIndexEntry = {
      file,
      bytes: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      users: users.length,
      examples: size,
      seed,
      maxUsers,
      maxExamples,
      created: pack.created,
    };
    index.packs[which] = entry;
    report.push({ ...entry, split: which, path: join(labDir, file) });
  }
  writeAtomic(indexFile, `${JSON.stringify(index, null, 2)}\n`);
  return { dir, bundle: manifest.version, packs: report, seconds: (performance.now() - started) / 1000 };
}

/** Whole sessions, seeded, until `max` examples; every session when they fit. */
function sampleSessions(session: Int32Array, size: number, max: number, seed: number): Set<number> {
  const counts = new Map<number, number>();
  for (let n = 0; n < size; n++) counts.set(session[n], (counts.get(session[n]) ?? 0) + 1);
  if (size <= max) return new Set(counts.keys());
  const ids = [...counts.keys()].sort((a, b) => a - b);
  new Random(seed ^ 0x5e5510).shuffle(ids);
  const keep = new Set<number>();
  let total = 0;
  for (const id of ids) {
    const c = counts.get(id)!;
    if (total + c > max) continue;
    keep.add(id);
    total += c;
  }
  return keep;
}

/** The fp32 compact encoder (onnxruntime-node) at the start of each session; zeros for no history. */
async function sessionEmbeddings(
  encoder: Uint8Array,
  length: number,
  dim: number,
  sequences: ActionSequence[],
  sessions: { user: number; start: number }[],
  items: Float32Array,
  chunk = 1024,
): Promise<Float32Array> {
  const out = new Float32Array(sessions.length * dim);
  const session = await createSession(encoder);
  try {
    const windows = sessions.map((s) => {
      const q = sequences[s.user];
      return { items: q.items, actions: q.actions, ts: q.ts, end: countBefore(q.ts, s.start) };
    });
    for (let start = 0; start < windows.length; start += chunk) {
      const part = windows.slice(start, start + chunk);
      const input = encoderInput(part, length, dim, tableRows(items, dim));
      const n = part.length;
      const result = await runOnce(
        session,
        {
          items: { data: input.items, dims: [n, length, dim] },
          actions: { data: input.actions, dims: [n, length, input.actions.length / (n * length)] },
          time: { data: input.time, dims: [n, length, input.time.length / (n * length)] },
          mask: { data: input.mask, dims: [n, length] },
        },
        ['user'],
      );
      out.set(result.user as Float32Array, start * dim);
    }
    windows.forEach((w, n) => {
      if (w.end === 0) out.fill(0, n * dim, (n + 1) * dim);
    });
  } finally {
    await session.release();
  }
  return out;
}
