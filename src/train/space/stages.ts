import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RetrievalBlend } from '../../core/bundle/index.ts';
import { evaluate, trainingData } from '../../core/eval/harness.ts';
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

/** Whether `outDir` holds LightGCN's finished tables (the stage then only reads them back). */
export function lightGcnStageDone(outDir: string): boolean {
  const files = RUN_SPACE_FILES.lightgcn;
  return existsSync(join(outDir, files.items)) && existsSync(join(outDir, files.model));
}

/**
 * Trains LightGCN (users folded in, as a bundle serves them), early-stopped on the run's retrieval metric
 * on validation; writes `lightgcn/items.f32` and `lightgcn/fold-in.f32`. A finished stage is reloaded.
 */
export async function trainLightGcnStage(
  split: EvalSplit,
  outDir: string,
  options: TrainRunOptions,
  manifest: RunManifest,
  save: () => void,
  onProgress: (p: StageProgress) => void,
): Promise<LightGcnFoldIn> {
  const files = RUN_SPACE_FILES.lightgcn;
  const itemsFile = join(outDir, files.items);
  const foldInFile = join(outDir, files.model);
  const dim = options.lightgcn?.dim ?? 64;
  if (lightGcnStageDone(outDir)) return new LightGcnFoldIn(readTable(itemsFile), readTable(foldInFile), dim);
  mkdirSync(join(outDir, 'lightgcn'), { recursive: true });
  const started = performance.now();
  const model = new LightGcnRecommender({ seed: options.seed, ...options.lightgcn, users: 'fold-in' });
  const hooks: FitHooks = {
    validate: () => validationScore(model, split, options.seed),
    onProgress: (done, total) =>
      onProgress({ stage: 'lightgcn', done, total, note: `epoch ${done}/${total}` }),
  };
  await model.fit(trainingData(split), hooks);
  const items = model.itemTable();
  const foldIn = model.foldInTable();
  writeTable(itemsFile, items);
  writeTable(foldInFile, foldIn);
  const described = model.describe();
  const seconds = (performance.now() - started) / 1000;
  manifest.stages.lightgcn = {
    seconds,
    peakRssMiB: peakRssMiB(),
    // 0-based, as every stage's record.
    bestEpoch: (described.bestEpoch as number) - 1,
    options: { ...options.lightgcn, users: 'fold-in', validation: described.validation },
  };
  manifest.tables[files.items] = [split.numItems, dim];
  manifest.tables[files.model] = [split.numItems, dim];
  save();
  return new LightGcnFoldIn(items, foldIn, dim);
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
