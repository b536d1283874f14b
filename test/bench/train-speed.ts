/**
 * The speed-ups of the training-time scoring paths against the code they replaced, both timed in the same
 * process on the same inputs (so a loaded machine slows both alike; compare the ratio, not the seconds), with
 * a check that both give identical results. Run by `npm run bench:train` (alone: `-- --only speed`).
 */
import { existsSync } from 'node:fs';
import { type EvalResult, evaluate, trainingData } from '../../src/core/eval/harness.ts';
import { evaluateItemToItem, type ItemSimilarity } from '../../src/core/eval/item-to-item.ts';
import { wrongPairsScan, wrongPairsSorted } from '../../src/core/eval/metrics.ts';
import type { Recommender } from '../../src/core/eval/model.ts';
import { buildSplit, type EvalSplit, type Protocol } from '../../src/core/eval/split.ts';
import { userItemsOf } from '../../src/core/interactions.ts';
import { Random } from '../../src/core/random.ts';
import { BprRecommender } from '../../src/train/baselines/index.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { GnnRecommender } from '../../src/train/gnn/index.ts';
import { inBatchMask, inBatchMaskScan } from '../../src/train/gnn/loss-mask.ts';

const VALIDATION_USERS = 2000;

export interface SpeedRow {
  stage: string;
  work: string;
  oldSeconds: number;
  newSeconds: number;
  speedup: number;
  identical: boolean;
}

const seconds = (run: () => unknown): [number, unknown] => {
  const started = performance.now();
  const value = run();
  return [(performance.now() - started) / 1000, value];
};

/** Old path first, then new, `repeats` times each interleaved; the minimum of each (least disturbed by load). */
function compare(
  stage: string,
  work: string | ((result: unknown) => string),
  old: () => unknown,
  current: () => unknown,
  equal: (a: unknown, b: unknown) => boolean = (a, b) => JSON.stringify(a) === JSON.stringify(b),
  repeats = 2,
): SpeedRow {
  let oldBest = Number.POSITIVE_INFINITY;
  let newBest = Number.POSITIVE_INFINITY;
  let identical = true;
  let last: unknown;
  for (let r = 0; r < repeats; r++) {
    const [a, x] = seconds(old);
    const [b, y] = seconds(current);
    oldBest = Math.min(oldBest, a);
    newBest = Math.min(newBest, b);
    identical &&= equal(x, y);
    last = y;
  }
  const described = typeof work === 'string' ? work : work(last);
  return {
    stage,
    work: described,
    oldSeconds: oldBest,
    newSeconds: newBest,
    speedup: oldBest / newBest,
    identical,
  };
}

/** Users the validation stage scores (a target and a history), at most VALIDATION_USERS. */
function evaluableUsers(split: EvalSplit): number {
  let n = 0;
  for (let u = 0; u < split.numUsers; u++)
    if (userItemsOf(split.valid, u).length > 0 && userItemsOf(split.train, u).length > 0) n++;
  return Math.min(n, VALIDATION_USERS);
}

/** The model seen through `score` only: the harness's one-user-at-a-time path, as before batching. */
const unbatched = (model: Recommender): Recommender => ({
  name: model.name,
  fit: (data, hooks) => model.fit(data, hooks),
  score: (user, history, candidates, out) => model.score(user, history, candidates, out),
});

/** A GNN-shaped item table from a real model: BPR's item rows, L2-normalised. */
function unitRows(table: Float32Array, dim: number): Float32Array {
  const out = table.slice();
  for (let i = 0; i < out.length; i += dim) {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += out[i + d] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < dim; d++) out[i + d] /= norm;
  }
  return out;
}

async function fittedBpr(split: EvalSplit): Promise<BprRecommender> {
  // Speed does not depend on how well it is trained; two epochs give real, non-random tables.
  const model = new BprRecommender({ dim: 64, maxEpochs: 2, seed: 1 });
  await model.fit(trainingData(split));
  return model;
}

export async function compareScoringSpeed(
  datasets: { name: string; path: string; format: string }[],
  log: (text: string) => void,
): Promise<SpeedRow[]> {
  const rows: SpeedRow[] = [];
  // What fitOnSplit scores at each validation check during training.
  const options = { seed: 0, sampleUsers: VALIDATION_USERS };
  for (const { name, path, format } of datasets) {
    if (!existsSync(path)) continue;
    log(`(speed: ${name})\n`);
    const dataset = await loadDataset(path, format as never);
    for (const protocol of ['full', 'temporal'] as Protocol[]) {
      const split = buildSplit(dataset, { protocol });
      const model = await fittedBpr(split);
      rows.push(
        compare(
          `validation scoring, ${protocol} (BPR)`,
          `${name}: ${evaluableUsers(split)} validation users × ${split.numItems} items`,
          () => evaluate(unbatched(model), split, 'valid', options).metrics,
          () => evaluate(model, split, 'valid', options).metrics,
        ),
      );
      if (protocol === 'temporal') rows.push(aucCounting(name, model, split));
    }
    const split = buildSplit(dataset, { protocol: 'sasrec' });
    const bpr = await fittedBpr(split);
    const gnn = GnnRecommender.fromTable(unitRows(bpr.itemTable(), 64), 64);
    const oneAtATime: ItemSimilarity = { name: 'gnn', itemScores: (item, out) => gnn.itemScores(item, out) };
    rows.push(
      compare(
        'item-to-item validation (GNN table)',
        (result) => `${name}: ${(result as EvalResult).users} queries × ${split.numItems} items`,
        () => evaluateItemToItem(oneAtATime, split, 'valid', { sampleUsers: 3000, seed: 0 }),
        () => evaluateItemToItem(gnn, split, 'valid', { sampleUsers: 3000, seed: 0 }),
      ),
    );
  }
  rows.push(lossMask());
  return rows;
}

/** AUC's mis-ordered pair counts for every temporal validation user with its real scores. */
function aucCounting(name: string, model: BprRecommender, split: EvalSplit): SpeedRow {
  const all = Int32Array.from({ length: split.numItems }, (_, i) => i);
  const cases: { scores: Float32Array; positives: Set<number> }[] = [];
  let positives = 0;
  for (let u = 0; u < split.numUsers && cases.length < 400; u++) {
    const targets = userItemsOf(split.valid, u);
    if (targets.length === 0) continue;
    const scores = new Float32Array(split.numItems);
    model.score(u, userItemsOf(split.train, u), all, scores);
    cases.push({ scores, positives: new Set(targets) });
    positives += targets.length;
  }
  return compare(
    'AUC pair counts, temporal',
    `${name}: ${cases.length} users, ${(positives / cases.length).toFixed(1)} positives each`,
    () => cases.map((c) => wrongPairsScan(c.scores, c.positives)),
    () => cases.map((c) => wrongPairsSorted(c.scores, c.positives)),
  );
}

/** The GNN step's in-batch mask at the defaults: 256 pairs both ways, 1024 shared negatives, 20 steps. */
function lossMask(): SpeedRow {
  const random = new Random(3);
  const batches = Array.from({ length: 20 }, () => {
    const draw = (n: number) => Int32Array.from({ length: n }, () => random.int(20000));
    const anchors = draw(256);
    const positives = draw(256);
    const queries = Int32Array.from([...anchors, ...positives]);
    const partners = Int32Array.from([...positives, ...anchors]);
    return { queries, partners, candidates: Int32Array.from([...queries, ...draw(1024)]) };
  });
  type Masks = { mask: Float32Array; pairs: number }[];
  const same = (a: unknown, b: unknown) =>
    (a as Masks).every(
      (m, i) => m.pairs === (b as Masks)[i].pairs && m.mask.every((v, j) => v === (b as Masks)[i].mask[j]),
    );
  return compare(
    'GNN loss mask (shared negatives)',
    '20 steps: 512 queries × 1536 candidates',
    () => batches.map((b) => inBatchMaskScan(b.queries, b.partners, b.candidates)),
    () => batches.map((b) => inBatchMask(b.queries, b.partners, b.candidates)),
    same,
  );
}
