import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fitOnSplit, refitData } from '../core/eval/harness.ts';
import type { EvalSplit } from '../core/eval/split.ts';
import {
  type ItemFeatures,
  loadPinnerFormer,
  PinnerFormerRecommender,
  savePinnerFormer,
} from './pinnerformer/index.ts';
import type { RunManifest, StageProgress, StageRecord, TrainRunOptions } from './pipeline.ts';
import { peakRssMiB } from './pipeline.ts';

export interface PinnerFormerStage {
  /** The validation-chosen model: what the retrieval-space choice scores on validation. */
  selection: PinnerFormerRecommender;
  /** The model the run publishes: the refit one where the run refits, else the selection model itself. */
  published: PinnerFormerRecommender;
}

interface StageContext {
  split: EvalSplit;
  outDir: string;
  options: TrainRunOptions;
  manifest: RunManifest;
  save: () => void;
  onProgress: (progress: StageProgress) => void;
  features?: ItemFeatures;
  /** With refit: the item features the refit reads (the GNN refit on the same events), if not `features`. */
  refitFeatures?: () => Promise<ItemFeatures>;
  /** Seconds left of an explicit --time-budget (undefined: no budget). */
  budgetLeft: () => number | undefined;
  validationUsers: number;
}

/**
 * PinnerFormer: fit on the training split with early stopping on validation NDCG@10 (the selection model);
 * then, where the run refits, train a fresh model with the same options and seed on training + validation
 * events for the number of epochs validation chose, and publish that one. Each part resumes on its own.
 *
 *   pinnerformer/model/        the published model
 *   pinnerformer/selection/    the selection model, where the run refits (else it is model/)
 *   pinnerformer/checkpoint/   the selection fit's resumable state; refit-checkpoint/ the refit's
 */
export async function trainPinnerFormerStage(context: StageContext): Promise<PinnerFormerStage> {
  const { split, outDir, options, manifest, save } = context;
  const refit = options.refit === true;
  const modelDir = join(outDir, 'pinnerformer', 'model');
  const selectionDir = refit ? join(outDir, 'pinnerformer', 'selection') : modelDir;
  if (!existsSync(join(selectionDir, 'state.json'))) {
    const started = performance.now();
    let sequences = 0;
    const recommender = new PinnerFormerRecommender(
      { seed: options.seed, ...options.pinnerformer, timeBudgetSeconds: context.budgetLeft() },
      context.features,
      {
        checkpointDir: join(outDir, 'pinnerformer', 'checkpoint'),
        onProgress: (p) => {
          sequences += p.batchSize;
          context.onProgress({
            stage: 'pinnerformer',
            done: p.step,
            total: p.stepsPerEpoch,
            note: `epoch ${p.epoch + 1} loss ${p.loss.toFixed(3)} ${Math.round(p.examplesPerSecond)} seq/s`,
          });
        },
      },
    );
    await fitOnSplit(recommender, split, { seed: options.seed, validationUsers: context.validationUsers });
    savePinnerFormer(selectionDir, recommender.trained, split.hasTimestamps);
    const { bestEpoch, epochs, trainSeconds: _, timeCut, ...trainedWith } = recommender.describe();
    const seconds = (performance.now() - started) / 1000;
    manifest.stages.pinnerformer = {
      seconds,
      examplesPerSecond: sequences / seconds,
      peakRssMiB: peakRssMiB(),
      bestEpoch: bestEpoch as number,
      epochs: epochs as StageRecord['epochs'],
      options: trainedWith,
    };
    if (timeCut) {
      const cut = timeCut as NonNullable<StageRecord['timeCut']>;
      manifest.stages.pinnerformer.timeCut = cut;
      cutBy(manifest, options, cut);
    }
    save();
  }
  const selection = await load(selectionDir);
  if (!refit) return { selection, published: selection };

  const record = manifest.stages.pinnerformer;
  // Only a run killed between writing the selection model and run.json gets here without the record.
  if (record?.bestEpoch === undefined)
    throw new Error(
      `${outDir}/run.json does not record PinnerFormer's selection fit; delete ${selectionDir} and run again to retrain it`,
    );
  if (!existsSync(join(modelDir, 'state.json'))) {
    const started = performance.now();
    // As many epochs as the selection fit's best one: the one length validation chose.
    const epochs = record.bestEpoch + 1;
    const features = context.refitFeatures ? await context.refitFeatures() : context.features;
    const recommender = new PinnerFormerRecommender(
      {
        seed: options.seed,
        ...options.pinnerformer,
        maxEpochs: epochs,
        timeBudgetSeconds: context.budgetLeft(),
      },
      features,
      {
        checkpointDir: join(outDir, 'pinnerformer', 'refit-checkpoint'),
        onProgress: (p) =>
          context.onProgress({
            stage: 'pinnerformer',
            done: p.step,
            total: p.stepsPerEpoch,
            note: `refit epoch ${p.epoch + 1}/${epochs} loss ${p.loss.toFixed(3)}`,
          }),
      },
    );
    // No validation hook: validation events are training data here, so the last epoch is the model.
    await recommender.fit(refitData(split));
    savePinnerFormer(modelDir, recommender.trained, split.hasTimestamps);
    const cut = recommender.describe().timeCut as StageRecord['timeCut'];
    record.refit = {
      epochs,
      seconds: (performance.now() - started) / 1000,
      events: split.trainLog.length + split.validLog.length,
      ...(cut ? { timeCut: cut } : {}),
    };
    if (cut) cutBy(manifest, options, cut);
    save();
  }
  return { selection, published: await load(modelDir) };
}

/** The run-level record of an explicit --time-budget ending PinnerFormer's selection fit or its refit. */
function cutBy(
  manifest: RunManifest,
  options: TrainRunOptions,
  cut: NonNullable<StageRecord['timeCut']>,
): void {
  manifest.timeCut = {
    stage: 'pinnerformer',
    epoch: cut.afterEpoch + 1,
    budgetSeconds: options.timeBudgetSeconds as number,
  };
}

async function load(dir: string): Promise<PinnerFormerRecommender> {
  const { model, hasTimestamps } = await loadPinnerFormer(dir);
  return PinnerFormerRecommender.fromModel(model, hasTimestamps);
}
