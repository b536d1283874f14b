import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../core/dataset.ts';
import { InputError } from '../core/errors.ts';
import { EventHistory, trainingData } from '../core/eval/harness.ts';
import { buildSplit, type PositiveSet, type Protocol } from '../core/eval/split.ts';
import { type GnnOptions, trainGnn } from './gnn/index.ts';
import { GNN_REFIT_TABLE, gnnValidation, sampleItemGraph, trainGnnRefitStage } from './gnn-stage.ts';
import { loadNeighborTable, saveNeighborTable } from './graph/index.ts';
import type { LightGcnOptions } from './lightgcn/index.ts';
import { type PinnerFormerOptions, sequenceFromEvents } from './pinnerformer/index.ts';
import { type PinnerFormerStage, trainPinnerFormerStage } from './pinnerformer-stage.ts';
import { BlendSpace } from './space/blend.ts';
import { LightGcnSpace } from './space/lightgcn-space.ts';
import { pinnerFormerSpace, RUN_SPACE_FILES } from './space/load.ts';
import type { RetrievalChoice, RetrievalModel } from './space/retrieval-space.ts';
import {
  chooseRetrievalSpace,
  lightGcnStageDone,
  lightGcnTablesExist,
  trainLightGcnStage,
} from './space/stages.ts';
import { trainStageOnThread } from './stage-thread.ts';

/** The models `edgerec train --models` can train (the PinSage graph comes with `gnn`). */
export const TRAIN_MODELS = ['gnn', 'pinnerformer', 'lightgcn'] as const;
export type TrainModel = (typeof TRAIN_MODELS)[number];
export const DEFAULT_TRAIN_MODELS: readonly TrainModel[] = ['gnn', 'pinnerformer', 'lightgcn'];

/**
 * The output folder of `edgerec train`:
 *   run.json                  what was trained (data, protocol, seed, options), per stage: seconds, epochs,
 *                             validation scores; and the shape of every table below
 *   ids.json                  { users: [...], items: [...] } external ids in index order
 *   graph/neighbors.bin       PinSage random-walk neighbours (see graph/neighbor-file.ts)
 *   gnn/checkpoint/           resumable GNN training state
 *   gnn/items.f32             GNN item table, [items × dim] float32 little-endian, rows L2-normalised
 *   gnn/refit/items.f32       with refit: the GNN refit on training + validation events, which the refit
 *                             PinnerFormer reads as item features (gnn/refit-checkpoint/: its resumable state)
 *   pinnerformer/checkpoint/  resumable PinnerFormer training state
 *   pinnerformer/model/       the published PinnerFormer (state.json + tensors.bin, see checkpoint.ts)
 *   pinnerformer/selection/   with refit: the validation-chosen PinnerFormer the retrieval choice scores
 *   pinnerformer/refit-checkpoint/  with refit: resumable state of the refit
 *   pinnerformer/items.f32    its item-tower table, [items × dim]
 *   pinnerformer/users.f32    every user's embedding after their training + validation events, [users × dim]
 *   lightgcn/items.f32, fold-in.f32  LightGCN's propagated item table and its fold-in rows; with refit, the
 *                             refit model's (the validation-chosen one's in lightgcn/selection/)
 *   blend/items.f32           the blend's concatenated item table, where validation chose a blend weight
 * Running the same command again resumes: finished stages are skipped, a stage in progress continues
 * from its checkpoint.
 */
export interface TrainRunOptions {
  protocol: Protocol;
  positives: PositiveSet;
  seed: number;
  /** Feed the GNN item table to PinnerFormer as frozen item features. */
  gnnFeatures: boolean;
  /**
   * Optional wall-clock cap on the whole run, in seconds: PinnerFormer, the last stage, stops at the end of
   * the first epoch past it (run.json's `timeCut` then says so). Off by default, so that a run's length,
   * and so its tables, depend on data, options and seed only, never on the machine's speed or load.
   */
  timeBudgetSeconds?: number;
  gnn?: Partial<GnnOptions>;
  pinnerformer?: Partial<PinnerFormerOptions>;
  lightgcn?: Partial<LightGcnOptions>;
  /**
   * After validation has chosen PinnerFormer's epochs, train it again from scratch (same options and seed)
   * on training + validation events for that many epochs, and publish that model: the test stage then
   * follows the events the model trained on, as it does in serving. LightGCN is refit the same way, and so
   * is the GNN whose table the refit PinnerFormer reads as item features. The retrieval-space choice still
   * scores the validation-chosen model. Off by default (`edgerec train --refit`): a bundle validates its
   * rankers on the validation window with the served models' features, which must not have trained there.
   */
  refit?: boolean;
  /** Which models to train (default DEFAULT_TRAIN_MODELS). */
  models?: readonly TrainModel[];
  /** The bundle's retrieval space: the validation winner among the trained candidates (`auto`), or this one. */
  retrieval?: RetrievalModel | 'auto';
  /**
   * Train LightGCN (and, with refit, the GNN's refit) on the main thread, instead of on worker threads
   * beside the GNN and PinnerFormer (the second core). The tables are the same either way; serial takes longer.
   */
  serial?: boolean;
}

export interface StageProgress {
  stage: 'graph' | 'gnn' | 'pinnerformer' | 'lightgcn';
  done: number;
  total: number;
  note?: string;
}

export interface StageRecord {
  seconds: number;
  /** Training examples per second (pairs for the GNN, sequences for PinnerFormer, items for the graph). */
  examplesPerSecond?: number;
  /** Peak resident memory of the process by the end of the stage. */
  peakRssMiB: number;
  bestEpoch?: number;
  validation?: number;
  epochs?: { epoch: number; loss: number; validation?: number }[];
  resumed?: boolean;
  skipped?: boolean;
  /** The options the stage trained with. */
  options?: Record<string, unknown>;
  /** Set when --time-budget ended the stage: its last epoch (0-based) and the seconds it had run. */
  timeCut?: { afterEpoch: number; seconds: number };
  /**
   * With refit, the fit on training + validation events: PinnerFormer's and LightGCN's published models, and
   * the GNN table PinnerFormer's refit reads.
   */
  refit?: {
    epochs: number;
    seconds: number;
    events: number;
    timeCut?: { afterEpoch: number; seconds: number };
  };
}

export interface RunManifest {
  format: 1;
  data: string;
  dataFormat: string;
  dataName: string;
  protocol: Protocol;
  positives: PositiveSet;
  seed: number;
  numUsers: number;
  numItems: number;
  gnnFeatures: boolean;
  /** Whether PinnerFormer's published model was refit on training + validation events (absent: it was not). */
  refit?: boolean;
  stages: Partial<Record<StageProgress['stage'], StageRecord>>;
  tables: Record<string, [number, number]>;
  /** Set when --time-budget cut the run short: which stage, after which epoch (1-based). */
  timeCut?: { stage: StageProgress['stage']; epoch: number; budgetSeconds: number };
  /** The models this run trained. Absent in runs from before `--models`: graph, GNN and PinnerFormer. */
  models?: TrainModel[];
  /** The retrieval space a bundle built from this run serves, and the validation scores that chose it. */
  retrieval?: RetrievalChoice;
}

export const VALIDATION_USERS = 3000;

export const peakRssMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** Writes through a temporary file and a rename: a run killed mid-write leaves no truncated table behind. */
export function writeTable(file: string, table: Float32Array): void {
  const partial = `${file}.partial`;
  writeFileSync(partial, new Uint8Array(table.buffer, table.byteOffset, table.byteLength));
  renameSync(partial, file);
}

export function readTable(file: string): Float32Array {
  const bytes = readFileSync(file);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export function readRunManifest(dir: string): RunManifest {
  const file = join(dir, 'run.json');
  if (!existsSync(file)) throw new Error(`${dir} holds no trained run (run.json is missing)`);
  return JSON.parse(readFileSync(file, 'utf8')) as RunManifest;
}

/**
 * Trains the global models on a protocol's training split: graph sampling and the GNN, PinnerFormer,
 * LightGCN (those `options.models` names), then chooses the retrieval space on validation.
 */
export async function trainGlobalModels(
  dataset: Dataset,
  dataPath: string,
  outDir: string,
  options: TrainRunOptions,
  onProgress: (progress: StageProgress) => void = () => {},
): Promise<RunManifest> {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const split = buildSplit(dataset, { protocol: options.protocol, positives: options.positives });
  const data = trainingData(split);
  const models = [...(options.models ?? DEFAULT_TRAIN_MODELS)];
  if (models.length === 0) throw new InputError('--models must name at least one model');
  if (models.includes('pinnerformer') && options.gnnFeatures && !models.includes('gnn'))
    throw new InputError(
      'PinnerFormer reads the GNN table (--gnn-features): add gnn to --models, or pass --no-gnn-features',
    );
  if (options.retrieval === 'blend' && !(models.includes('pinnerformer') && models.includes('lightgcn')))
    throw new InputError('--retrieval blend mixes PinnerFormer and LightGCN: --models must train both');
  if (
    options.retrieval &&
    options.retrieval !== 'auto' &&
    options.retrieval !== 'blend' &&
    !models.includes(options.retrieval)
  )
    throw new InputError(`--retrieval ${options.retrieval} names a model --models does not train`);
  for (const sub of ['graph', 'gnn', 'pinnerformer']) mkdirSync(join(outDir, sub), { recursive: true });
  const manifestFile = join(outDir, 'run.json');
  let manifest: RunManifest = {
    format: 1,
    data: dataPath,
    dataFormat: dataset.format,
    dataName: dataset.name,
    protocol: options.protocol,
    positives: options.positives,
    seed: options.seed,
    numUsers: data.numUsers,
    numItems: data.numItems,
    gnnFeatures: options.gnnFeatures,
    ...(options.refit ? { refit: true } : {}),
    models,
    stages: {},
    tables: {},
  };
  if (existsSync(manifestFile)) {
    const previous = readRunManifest(outDir);
    const same = (
      ['dataName', 'protocol', 'positives', 'seed', 'numUsers', 'numItems', 'gnnFeatures'] as const
    ).every((key) => previous[key] === manifest[key]);
    if (!same)
      throw new Error(`${outDir} holds a run of other data or options; choose another --out or delete it`);
    // The graph and the GNN's selection fit do not depend on the setting; the refits and PinnerFormer's and
    // LightGCN's tables do.
    const refitDependent =
      previous.stages.pinnerformer ||
      lightGcnTablesExist(outDir) ||
      existsSync(join(outDir, GNN_REFIT_TABLE));
    if ((previous.refit ?? false) !== (options.refit ?? false) && refitDependent)
      throw new InputError(
        `${outDir} holds a run ${previous.refit ? 'with' : 'without'} the refit; resume it ${previous.refit ? 'with' : 'without'} --refit, or choose another --out`,
      );
    manifest = { ...previous, models };
    if (options.refit) manifest.refit = true;
    else delete manifest.refit;
  }
  const save = () => writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    join(outDir, 'ids.json'),
    JSON.stringify({ users: dataset.users.toArray(), items: dataset.items.toArray() }),
  );
  save();

  // LightGCN shares nothing with the GNN and PinnerFormer: where both kinds train, it takes the second core.
  const lightgcnThread =
    models.includes('lightgcn') &&
    !options.serial &&
    (models.includes('gnn') || models.includes('pinnerformer')) &&
    !lightGcnStageDone(outDir, options.refit)
      ? trainStageOnThread('lightgcn', dataset, outDir, options, {}, onProgress)
      : undefined;
  // With --refit, PinnerFormer's refit reads a refit GNN table; it trains beside PinnerFormer's selection fit.
  const gnnRefitNeeded =
    options.refit === true &&
    options.gnnFeatures &&
    models.includes('gnn') &&
    models.includes('pinnerformer');
  let gnnRefitThread: ReturnType<typeof trainStageOnThread> | undefined;
  try {
    return await trainOnMainThread();
  } finally {
    await Promise.all([lightgcnThread?.stop(), gnnRefitThread?.stop()]);
  }

  async function trainOnMainThread(): Promise<RunManifest> {
    let gnnTable: Float32Array | undefined;
    const gnnDim = options.gnn?.dim ?? 64;
    if (models.includes('gnn')) {
      // 1. PinSage graph: boards (given or derived) → random walks with restart → top-T neighbours.
      const neighborFile = join(outDir, 'graph', 'neighbors.bin');
      let neighbors = existsSync(neighborFile) ? loadNeighborTable(neighborFile).table : undefined;
      if (!neighbors) {
        const t = performance.now();
        neighbors = await sampleItemGraph(data, options.seed, (done, total) =>
          onProgress({ stage: 'graph', done, total }),
        );
        saveNeighborTable(neighborFile, neighbors, { seed: options.seed });
        const seconds = (performance.now() - t) / 1000;
        manifest.stages.graph = {
          seconds,
          examplesPerSecond: data.numItems / seconds,
          peakRssMiB: peakRssMiB(),
        };
        save();
      }

      // 2. GNN item embeddings, model choice by item-to-item hit rate on validation co-engagements.
      const gnnTableFile = join(outDir, 'gnn', 'items.f32');
      gnnTable = existsSync(gnnTableFile) ? readTable(gnnTableFile) : undefined;
      if (!gnnTable) {
        const t = performance.now();
        let gnnRate = 0;
        const result = await trainGnn(
          data,
          neighbors,
          { seed: options.seed, ...options.gnn },
          {
            checkpointDir: join(outDir, 'gnn', 'checkpoint'),
            onProgress: (info) => {
              gnnRate = info.examplesPerSecond;
              onProgress({
                stage: 'gnn',
                done: info.epoch * info.stepsPerEpoch + info.step,
                total: info.epochs * info.stepsPerEpoch,
                note: `epoch ${info.epoch + 1}/${info.epochs} loss ${info.loss.toFixed(4)} ${Math.round(info.examplesPerSecond)} pairs/s`,
              });
            },
            validate: gnnValidation(split, gnnDim, options.seed, VALIDATION_USERS),
          },
        );
        gnnTable = result.table;
        writeTable(gnnTableFile, gnnTable);
        manifest.stages.gnn = {
          seconds: (performance.now() - t) / 1000,
          examplesPerSecond: gnnRate,
          peakRssMiB: peakRssMiB(),
          bestEpoch: result.bestEpoch,
          validation: result.bestScore,
          epochs: result.history.map((h) => ({ epoch: h.epoch, loss: h.loss, validation: h.score })),
          resumed: result.resumedAt !== undefined,
        };
        manifest.tables['gnn/items.f32'] = [data.numItems, gnnDim];
        save();
      }
      if (gnnRefitNeeded && !options.serial && !existsSync(join(outDir, GNN_REFIT_TABLE)))
        gnnRefitThread = trainStageOnThread(
          'gnn-refit',
          dataset,
          outDir,
          options,
          { gnn: manifest.stages.gnn },
          onProgress,
        );
    }
    // The table PinnerFormer's refit reads: the refit GNN's, once the thread has written it (or trained here).
    const gnnRefitTable = async (): Promise<Float32Array> => {
      if (gnnRefitThread) {
        const { stages, tables } = await gnnRefitThread.result;
        const gnnRecord = manifest.stages.gnn;
        if (stages.gnn?.refit && gnnRecord) gnnRecord.refit = stages.gnn.refit;
        Object.assign(manifest.tables, tables);
        save();
      }
      return trainGnnRefitStage(split, outDir, options, manifest, save, onProgress);
    };

    // 3. LightGCN, early stopping on the validation score of its fold-in users (how a bundle serves them);
    // with --refit, then refit on training + validation events as PinnerFormer is.
    const lightgcnStage = () => trainLightGcnStage(split, outDir, options, manifest, save, onProgress);
    let lightgcn = models.includes('lightgcn') && !lightgcnThread ? await lightgcnStage() : undefined;

    // 4. PinnerFormer user embeddings (last, so that an explicit --time-budget can bound the run), early
    // stopping on validation NDCG@10 of the protocol; then, with --refit, the same model refit on training
    // + validation events for the epochs validation chose.
    let pinnerformer: PinnerFormerStage | undefined;
    if (models.includes('pinnerformer')) {
      pinnerformer = await trainPinnerFormerStage({
        split,
        outDir,
        options,
        manifest,
        save,
        onProgress,
        features: options.gnnFeatures && gnnTable ? { table: gnnTable, dim: gnnDim } : undefined,
        refitFeatures: gnnRefitNeeded
          ? async () => ({ table: await gnnRefitTable(), dim: gnnDim })
          : undefined,
        budgetLeft: () =>
          options.timeBudgetSeconds === undefined
            ? undefined
            : Math.max(0, options.timeBudgetSeconds - elapsed()),
        validationUsers: VALIDATION_USERS,
      });
      const { published } = pinnerformer;
      const { dim } = published.trained.options;
      writeTable(join(outDir, 'pinnerformer', 'items.f32'), published.itemTable());
      // Each user's long-term embedding from everything before the test period.
      const history = new EventHistory(split, 'test');
      const users = published.embedSequences(
        Array.from({ length: split.numUsers }, (_, u) =>
          sequenceFromEvents(history.of(u), published.timestamps),
        ),
      );
      writeTable(join(outDir, 'pinnerformer', 'users.f32'), users);
      manifest.tables['pinnerformer/items.f32'] = [data.numItems, dim];
      manifest.tables['pinnerformer/users.f32'] = [data.numUsers, dim];
      save();
    }

    if (lightgcnThread) {
      const { stages, tables } = await lightgcnThread.result;
      if (stages.lightgcn) manifest.stages.lightgcn = stages.lightgcn;
      Object.assign(manifest.tables, tables);
      save();
      // Its files are written: this reads them back.
      lightgcn = await lightgcnStage();
    }

    // 5. The retrieval space: the validation winner among the trained candidates, unless --retrieval names one.
    // Validation scores the selection model: a refit one has trained on the validation events.
    manifest.retrieval = chooseRetrievalSpace(
      split,
      options,
      { pinnerformer: pinnerformer?.selection, lightgcn: lightgcn?.selection },
      manifest.retrieval,
    );
    // The blend's concatenated table (what a bundle in its space ships, byte for byte), whichever space won.
    const blend = manifest.retrieval.blend;
    if (blend && pinnerformer && lightgcn) {
      const space = new BlendSpace(
        pinnerFormerSpace(pinnerformer.published, pinnerformer.published.itemTable()),
        new LightGcnSpace(lightgcn.published.items, lightgcn.published.foldIn, lightgcn.published.dim),
        blend,
      );
      mkdirSync(join(outDir, 'blend'), { recursive: true });
      writeTable(join(outDir, RUN_SPACE_FILES.blend.items), space.items);
      manifest.tables[RUN_SPACE_FILES.blend.items] = [data.numItems, space.dim];
    }
    save();
    return manifest;
  }
}
