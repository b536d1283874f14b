import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RetrievalBlend } from '../../core/bundle/index.ts';
import { evaluate, refitData, trainingData } from '../../core/eval/harness.ts';
import type { FitHooks, Recommender } from '../../core/eval/model.ts';
import type { EvalSplit } from '../../core/eval/split.ts';
import { LightGcnRecommender } from '../lightgcn/index.ts';
import { foldInUser } from '../lightgcn/propagation.ts';
import type { PinnerFormerRecommender } from '../pinnerformer/index.ts';
import {
  peakRssMiB,
  type RunManifest,
  readTable,
  type StageProgress,
  type StageRecord,
  type TrainRunOptions,
  VALIDATION_USERS,
  writeTable,
} from '../pipeline.ts';
import { BLEND_WEIGHTS, BlendRecommender, chooseBlendWeight, ScoreMemo } from './blend.ts';
import { RUN_SPACE_FILES } from './load.ts';
import { chooseRetrievalModel, type RetrievalChoice, type RetrievalModel } from './retrieval-space.ts';

/** The retrieval metric a run's candidates are compared on (and LightGCN stops early on) per protocol. */
export function retrievalMetric(split: EvalSplit): 'Recall@20' | 'NDCG@10' {
  return split.protocol === 'sasrec' ? 'NDCG@10' : 'Recall@20';
}

function validationScore(model: Recommender, split: EvalSplit, seed: number): number {
  const metric = retrievalMetric(split);
  return evaluate(model, split, 'valid', { seed, sampleUsers: VALIDATION_USERS, ks: [20] }).metrics[metric];
}

/** LightGCN's tables as a recommender whose users are folded in from the history the harness passes. */
export class LightGcnFoldIn implements Recommender {
  readonly name = 'lightgcn';
  constructor(
    readonly items: Float32Array,
    readonly foldIn: Float32Array,
    readonly dim: number,
  ) {}
  async fit(): Promise<void> {}
  score(_user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    const { dim, items } = this;
    const query = new Float32Array(dim);
    foldInUser(this.foldIn, dim, history, query);
    // Unit length, as LightGcnSpace serves it: no user's ranking changes, but the blend's score scale does.
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += query[d] * query[d];
    const unit = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let c = 0; c < candidates.length; c++) {
      const row = candidates[c] * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += query[d] * items[row + d];
      out[c] = s * unit;
    }
  }
}

/** LightGCN's stage: the validation-chosen model, and the one the run publishes (the same without refit). */
export interface LightGcnStage {
  /** What the retrieval-space choice and the blend's weight score on validation. */
  selection: LightGcnFoldIn;
  /** `lightgcn/items.f32` and `fold-in.f32`: with `--refit`, the fit on training + validation events. */
  published: LightGcnFoldIn;
}

/** Where a refit run keeps its validation-chosen LightGCN, and that fit's run.json record (for a resume). */
const SELECTION = {
  items: join('lightgcn', 'selection', 'items.f32'),
  foldIn: join('lightgcn', 'selection', 'fold-in.f32'),
  record: join('lightgcn', 'selection', 'stage.json'),
};

const hasAll = (outDir: string, paths: string[]) => paths.every((path) => existsSync(join(outDir, path)));

/** Whether `outDir` holds tables of a LightGCN fit, finished or not: a selection fit's or a published one's. */
export function lightGcnTablesExist(outDir: string): boolean {
  return [RUN_SPACE_FILES.lightgcn.items, SELECTION.items].some((path) => existsSync(join(outDir, path)));
}

/** Whether the validation-chosen fit is on disk (with refit, its record too: written last, it marks the end). */
function selectionDone(outDir: string, refit: boolean): boolean {
  const { items, model } = RUN_SPACE_FILES.lightgcn;
  return hasAll(outDir, refit ? [SELECTION.items, SELECTION.foldIn, SELECTION.record] : [items, model]);
}

/** Whether `outDir` holds LightGCN's finished tables (the stage then only reads them back). */
export function lightGcnStageDone(outDir: string, refit = false): boolean {
  const { items, model } = RUN_SPACE_FILES.lightgcn;
  return selectionDone(outDir, refit) && hasAll(outDir, [items, model]);
}

/**
 * Trains LightGCN (users folded in, as a bundle serves them), early-stopped on the run's retrieval metric
 * on validation; writes `lightgcn/items.f32` and `lightgcn/fold-in.f32`. With `--refit`, that model goes to
 * `lightgcn/selection/`, and a fresh one with the same options and seed trains on training + validation
 * events for the epochs validation chose, with no validation hook, and is published: PinnerFormer's refit
 * for the blend's other half. A finished part is reloaded, so a killed run resumes between the two.
 */
export async function trainLightGcnStage(
  split: EvalSplit,
  outDir: string,
  options: TrainRunOptions,
  manifest: RunManifest,
  save: () => void,
  onProgress: (p: StageProgress) => void,
): Promise<LightGcnStage> {
  const refit = options.refit === true;
  const published = RUN_SPACE_FILES.lightgcn;
  const files = refit ? { items: SELECTION.items, model: SELECTION.foldIn } : published;
  const dim = options.lightgcn?.dim ?? 64;
  const load = (items: string, foldIn: string) =>
    new LightGcnFoldIn(readTable(join(outDir, items)), readTable(join(outDir, foldIn)), dim);
  mkdirSync(join(outDir, refit ? join('lightgcn', 'selection') : 'lightgcn'), { recursive: true });

  if (!selectionDone(outDir, refit)) {
    const started = performance.now();
    const model = new LightGcnRecommender({ seed: options.seed, ...options.lightgcn, users: 'fold-in' });
    const hooks: FitHooks = {
      validate: () => validationScore(model, split, options.seed),
      onProgress: (done, total) =>
        onProgress({ stage: 'lightgcn', done, total, note: `epoch ${done}/${total}` }),
    };
    await model.fit(trainingData(split), hooks);
    writeTable(join(outDir, files.items), model.itemTable());
    writeTable(join(outDir, files.model), model.foldInTable());
    const described = model.describe();
    manifest.stages.lightgcn = {
      seconds: (performance.now() - started) / 1000,
      peakRssMiB: peakRssMiB(),
      // 0-based, as every stage's record.
      bestEpoch: (described.bestEpoch as number) - 1,
      options: { ...options.lightgcn, users: 'fold-in', validation: described.validation },
    };
    manifest.tables[files.items] = [split.numItems, dim];
    manifest.tables[files.model] = [split.numItems, dim];
    // Written last: the selection fit is finished only once its record is.
    if (refit) writeFileSync(join(outDir, SELECTION.record), JSON.stringify(manifest.stages.lightgcn));
    save();
  }
  const selection = load(files.items, files.model);
  if (!refit) return { selection, published: selection };

  if (!hasAll(outDir, [published.items, published.model])) {
    const started = performance.now();
    // The thread's manifest is its own: a resumed refit reads the selection fit's record back.
    const record: StageRecord =
      manifest.stages.lightgcn ?? JSON.parse(readFileSync(join(outDir, SELECTION.record), 'utf8'));
    const epochs = (record.bestEpoch as number) + 1;
    const model = new LightGcnRecommender({
      seed: options.seed,
      ...options.lightgcn,
      users: 'fold-in',
      maxEpochs: epochs,
    });
    // No validation hook: validation events are training data here, so the last epoch is the model.
    await model.fit(refitData(split), {
      onProgress: (done, total) =>
        onProgress({ stage: 'lightgcn', done, total, note: `refit epoch ${done}/${total}` }),
    });
    writeTable(join(outDir, published.items), model.itemTable());
    writeTable(join(outDir, published.model), model.foldInTable());
    record.refit = {
      epochs,
      seconds: (performance.now() - started) / 1000,
      events: split.trainLog.length + split.validLog.length,
    };
    manifest.stages.lightgcn = record;
    manifest.tables[published.items] = [split.numItems, dim];
    manifest.tables[published.model] = [split.numItems, dim];
    save();
  }
  return { selection, published: load(published.items, published.model) };
}

/**
 * Scores each trained candidate on the validation stage with the run's retrieval metric and keeps the
 * winner (or the model `--retrieval` names, still recording the scores). With both PinnerFormer and
 * LightGCN trained, the blend of their scores is a third candidate: each space's score σ over the
 * validation sample, then every weight of BLEND_WEIGHTS scored on the same users; its row is the best
 * weight's score. A resumed run keeps its choice.
 */
export function chooseRetrievalSpace(
  split: EvalSplit,
  options: TrainRunOptions,
  candidates: { pinnerformer?: PinnerFormerRecommender; lightgcn?: LightGcnFoldIn },
  previous: RetrievalChoice | undefined,
): RetrievalChoice {
  const forced = options.retrieval && options.retrieval !== 'auto' ? options.retrieval : undefined;
  const trained: RetrievalModel[] = (['pinnerformer', 'lightgcn'] as const).filter((m) => candidates[m]);
  if (candidates.pinnerformer && candidates.lightgcn) trained.push('blend');
  const metric = retrievalMetric(split);
  const chosenBy = forced ? 'forced' : trained.length > 1 ? 'validation' : 'only-candidate';
  if (previous && previous.metric === metric && trained.every((m) => previous.validation[m] !== undefined)) {
    // Among this run's candidates only: a run resumed with fewer --models must not serve one it left out.
    const scores = Object.fromEntries(trained.map((m) => [m, previous.validation[m]]));
    return { ...previous, model: forced ?? chooseRetrievalModel(scores), chosenBy };
  }
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  const validation: RetrievalChoice['validation'] = {};
  const memo = {
    pinnerformer: candidates.pinnerformer && new ScoreMemo(candidates.pinnerformer),
    lightgcn: candidates.lightgcn && new ScoreMemo(candidates.lightgcn),
  };
  for (const m of ['pinnerformer', 'lightgcn'] as const) {
    const model = memo[m];
    if (model) validation[m] = round(validationScore(model, split, options.seed));
  }
  let blend: RetrievalBlend | undefined;
  if (memo.pinnerformer && memo.lightgcn) {
    const { pinnerformer, lightgcn } = memo;
    const scales = {
      pinnerformer: round(pinnerformer.scoreDeviation()),
      lightgcn: round(lightgcn.scoreDeviation()),
    };
    const grid = BLEND_WEIGHTS.map((weight) => ({
      weight,
      score: round(
        validationScore(
          new BlendRecommender(pinnerformer, lightgcn, { weight, scales }),
          split,
          options.seed,
        ),
      ),
    }));
    const weight = chooseBlendWeight(grid);
    blend = { weight, scales, grid };
    validation.blend = grid.find((row) => row.weight === weight)?.score;
  }
  const model = forced ?? chooseRetrievalModel(validation);
  return { model, chosenBy, metric, validation, ...(blend ? { blend } : {}) };
}
