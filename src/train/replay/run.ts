/**
 * `edgerec replay` in Node: a bundle and the run it was built from → the replay evaluation of
 * src/core/replay on the validation or the test window, with the bundle's own models (onnxruntime-node
 * at the browser's arithmetic) and the exact CPU retrieval scan.
 */

import { Bundle, type DecodedItemTable, type ModelEntry } from '../../core/bundle/index.ts';
import type { Dataset } from '../../core/dataset.ts';
import { InputError } from '../../core/errors.ts';
import type { FeedModel, FeedRunners } from '../../core/feed/index.ts';
import {
  type ReplayInput,
  type ReplayReport,
  type ReplayVariant,
  type RunModel,
  replayRunners,
  runReplay,
} from '../../core/replay/index.ts';
import { assertBundleData } from '../bundle/data-check.ts';
import { directorySource } from '../bundle/directory-source.ts';
import { edgeWindows } from '../bundle/edge-models.ts';
import { longTermSnapshot } from '../bundle/snapshots.ts';
import { loadDataset } from '../data/load.ts';
import { resolveBundleDir } from '../lab/source.ts';
import { createSession, runOnce } from '../onnx/run.ts';
import { actionSequences } from '../pinnerformer/index.ts';
import { readRunManifest } from '../pipeline.ts';
import { itemStatsBefore } from '../ranker/examples.ts';
import { loadUserSpace } from '../space/index.ts';

export const REPLAY_SPLITS = ['valid', 'test'] as const;
export type ReplaySplit = (typeof REPLAY_SPLITS)[number];

/** What the replay runs: the engine's defaults (i8 items; the int8 student models in the dq form every EP runs). */
const ITEM_DTYPE = 'i8';
const MODEL_DTYPE = 'int8';
const MODEL_FORM = 'dq';

export interface ReplayRunOptions {
  /** A bundles folder (its latest bundle) or one bundle's folder. */
  models: string;
  /** The `edgerec train --protocol temporal` run the bundle was built from. */
  checkpoint: string;
  split: ReplaySplit;
  variants: ReplayVariant[];
  seed: number;
  maxUsers?: number;
  dataset?: Dataset;
  /** What `prepareReplayNode` made of the options, when the caller already has it. */
  prepared?: PreparedReplay;
  onStage?: (stage: string) => void;
  onProgress?: (variant: string, done: number, total: number) => void;
}

export interface ReplayRunReport extends ReplayReport {
  bundle: string;
  split: ReplaySplit;
  window: { from: number; to: number };
  seed: number;
}

/** Everything the replay reads, prepared in Node: its input, the bundle and the models it runs. */
export interface PreparedReplay {
  input: ReplayInput;
  bundle: Bundle;
  encoderEntry: ModelEntry;
  rankerEntry: ModelEntry;
  window: { from: number; to: number };
}

export async function prepareReplayNode(
  options: Pick<ReplayRunOptions, 'models' | 'checkpoint' | 'split' | 'dataset' | 'onStage'> & {
    /** The bundle, already open (the build's, before it is published); default: opened from `models`. */
    bundle?: Bundle;
  },
): Promise<PreparedReplay> {
  const stage = options.onStage ?? (() => {});
  const bundle = options.bundle ?? (await Bundle.open(directorySource(resolveBundleDir(options.models))));
  const { manifest } = bundle;
  const run = readRunManifest(options.checkpoint);
  if (run.protocol !== 'temporal')
    throw new InputError(
      `${options.checkpoint}: the replay needs a temporal-protocol run, not ${run.protocol}`,
    );
  stage('data');
  const dataset = options.dataset ?? (await loadDataset(run.data, run.dataFormat as never));
  assertBundleData(manifest, dataset, run.data);
  const windows = edgeWindows(dataset);
  const window =
    options.split === 'valid'
      ? { from: windows.validStart, to: windows.testStart }
      : { from: windows.testStart, to: windows.end };

  stage('long-term embeddings');
  // The run's retrieval space: the one the bundle's table (and its server's embeddings) are in.
  const teacher = await loadUserSpace(options.checkpoint);
  const sequences = actionSequences(dataset.log, dataset.users.size, dataset.hasTimestamps);
  const longTerm = longTermSnapshot(teacher, sequences, window.from);

  stage('models');
  const catalog = await bundle.catalog();
  const table = await bundle.itemTable(ITEM_DTYPE);
  const stats = itemStatsBefore(dataset.log, dataset.items.size, window.from);
  const positives = stats.map((s) => s.positives);
  const feedModel: FeedModel = {
    table,
    catalog,
    stats: {
      positives,
      impressions: stats.map((s) => s.impressions),
      firstSeen: stats.map((s) => s.firstSeen),
    },
    popular: Int32Array.from(positives.keys()).sort((a, b) => positives[b] - positives[a] || a - b),
  };
  const encoderEntry = bundle.model('encoder', 'student', MODEL_DTYPE, MODEL_FORM);
  const rankerEntry = bundle.model(
    'ranker',
    'student',
    MODEL_DTYPE,
    MODEL_FORM,
    bundle.manifest.defaultRanker?.fusion ?? 'late',
  );
  const input: ReplayInput = {
    log: dataset.log,
    numUsers: dataset.users.size,
    window,
    longTerm,
    model: feedModel,
    weights: manifest.utility.weights,
  };
  return { input, bundle, encoderEntry, rankerEntry, window };
}

export async function runReplayNode(options: ReplayRunOptions): Promise<ReplayRunReport> {
  const prepared = options.prepared ?? (await prepareReplayNode(options));
  const { bundle, input, window } = prepared;
  const runners = await replayRunnersNode(prepared);
  try {
    options.onStage?.(`replay ${options.split}`);
    const report = await runReplay(input, runners, options.variants, {
      seed: options.seed,
      maxUsers: options.maxUsers,
      onProgress: options.onProgress,
    });
    return { bundle: bundle.manifest.version, split: options.split, window, seed: options.seed, ...report };
  } finally {
    await runners.release();
  }
}

/** The replay's runners for a prepared bundle (onnxruntime-node, the exact scan); release() when done. */
export function replayRunnersNode(
  prepared: PreparedReplay,
): Promise<FeedRunners & { release(): Promise<void> }> {
  const { bundle, encoderEntry, rankerEntry } = prepared;
  return nodeRunners(prepared.input.model.table, encoderEntry, rankerEntry, (ref) => bundle.file(ref));
}

/** The feed pipeline's runners on onnxruntime-node and the exact reference scan. */
async function nodeRunners(
  table: DecodedItemTable,
  encoderEntry: ModelEntry,
  rankerEntry: ModelEntry,
  load: (entry: ModelEntry) => Promise<Uint8Array>,
): Promise<FeedRunners & { release(): Promise<void> }> {
  const encoder = await createSession(await load(encoderEntry));
  const ranker = await createSession(await load(rankerEntry));
  const run =
    (session: typeof encoder): RunModel =>
    async (feeds, output) =>
      (await runOnce(session, feeds, [output]))[output] as Float32Array;
  return {
    ...replayRunners(table, encoderEntry, rankerEntry, run(encoder), run(ranker)),
    async release() {
      await encoder.release();
      await ranker.release();
    },
  };
}
