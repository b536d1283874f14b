import {
  concatLogs,
  concatUserItems,
  groupRowsByUser,
  type InteractionLog,
  type RowsByUser,
  type UserItems,
  userItemsOf,
} from '../interactions.ts';
import { Random } from '../random.ts';
import { topK } from '../topk.ts';
import {
  fullRankStatistics,
  hitRateAt,
  MetricAccumulator,
  ndcgAt,
  recallAt,
  sampledAuc,
  sampledHitRate,
  sampledNdcg,
  sampledRank,
  sampledReciprocalRank,
} from './metrics.ts';
import type { Recommender, ScoreRequest, TrainingData, UserEvents } from './model.ts';
import type { EvalSplit } from './split.ts';

export type Stage = 'valid' | 'test';

export interface EvalOptions {
  /** Cut-offs for the @K metrics; 10 is always included. */
  ks?: number[];
  /** `sasrec`: negatives sampled per user (the paper's 100). */
  negatives?: number;
  /** Seeds negative sampling and user sampling. */
  seed?: number;
  /** Score a seeded random sample of this many users instead of all (the SASRec code samples 10,000). */
  sampleUsers?: number;
  /**
   * Full ranking: drop the user's history from the candidates (default: yes for `full` and `temporal`,
   * whose positives are first engagements, so a seen item could only take a top-K slot and never hit).
   */
  excludeHistory?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface EvalResult {
  protocol: string;
  stage: Stage;
  users: number;
  metrics: Record<string, number>;
}

export function trainingData(split: EvalSplit): TrainingData {
  return {
    numUsers: split.numUsers,
    numItems: split.numItems,
    train: split.train,
    log: split.trainLog,
    hasTimestamps: split.hasTimestamps,
    catalog: split.catalog,
  };
}

/**
 * Training and validation events together: what a model refits on once validation has made every choice
 * (its options, how many epochs). The test stage stays unseen, and the refit model no longer has a
 * validation score of its own.
 */
export function refitData(split: EvalSplit): TrainingData {
  return {
    ...trainingData(split),
    train: concatUserItems(split.train, split.valid),
    log: concatLogs(split.trainLog, split.validLog),
  };
}

/** The model input at each stage: validation sees train; test sees train followed by validation. */
export function historyFor(split: EvalSplit, stage: Stage): UserItems {
  return stage === 'valid' ? split.train : concatUserItems(split.train, split.valid);
}

function evaluableUsers(split: EvalSplit, history: UserItems, stage: Stage, options: EvalOptions): number[] {
  const targets = stage === 'valid' ? split.valid : split.test;
  const users: number[] = [];
  for (let u = 0; u < split.numUsers; u++) {
    if (targets.offsets[u + 1] > targets.offsets[u] && history.offsets[u + 1] > history.offsets[u])
      users.push(u);
  }
  if (options.sampleUsers !== undefined && options.sampleUsers < users.length) {
    const random = new Random((options.seed ?? 0) ^ 0x5eed);
    random.shuffle(users);
    users.length = options.sampleUsers;
    users.sort((a, b) => a - b);
  }
  return users;
}

function cutoffs(options: EvalOptions, defaults: number[]): number[] {
  return [...new Set([...(options.ks ?? defaults), 10])].sort((a, b) => a - b);
}

/**
 * Negatives as the SASRec code draws them: uniform over the items (`pool`: a count, or the list of items
 * that occur in the interactions), redrawn while the item is in the user's training set. The target itself
 * is not excluded, exactly as in the reference code.
 */
export function sampleNegatives(
  random: Random,
  pool: number | Int32Array,
  train: Int32Array,
  count: number,
): Int32Array {
  const size = typeof pool === 'number' ? pool : pool.length;
  const draw = typeof pool === 'number' ? () => random.int(size) : () => pool[random.int(size)];
  const rated = new Set(train);
  // Only a user who rated at least as many items as the pool holds can have exhausted it; check exactly then.
  if (rated.size >= size) {
    const exhausted = typeof pool === 'number' ? rated.size >= size : pool.every((item) => rated.has(item));
    if (exhausted) throw new Error('cannot sample negatives: the user has interacted with every item');
  }
  const out = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    let t = draw();
    while (rated.has(t)) t = draw();
    out[n] = t;
  }
  return out;
}

/** Per-user event views for a stage: the training log, plus the validation period at the test stage. */
export class EventHistory {
  private readonly parts: { log: InteractionLog; rows: RowsByUser }[];

  constructor(split: EvalSplit, stage: Stage) {
    const logs = stage === 'valid' ? [split.trainLog] : [split.trainLog, split.validLog];
    this.parts = logs.map((log) => ({ log, rows: groupRowsByUser(log, split.numUsers) }));
  }

  of(user: number): UserEvents {
    let n = 0;
    for (const { rows } of this.parts) n += rows.offsets[user + 1] - rows.offsets[user];
    const events: UserEvents = {
      items: new Int32Array(n),
      actions: new Uint8Array(n),
      ts: new Float64Array(n),
    };
    let k = 0;
    for (const { log, rows } of this.parts) {
      for (let i = rows.offsets[user]; i < rows.offsets[user + 1]; i++, k++) {
        const r = rows.rows[i];
        events.items[k] = log.item[r];
        events.actions[k] = log.action[r];
        events.ts[k] = log.ts[r];
      }
    }
    return events;
  }
}

/** Users scored per call: batched models (neural encoders) run one forward pass per chunk. */
const SCORE_CHUNK = 256;

function scoreAll(model: Recommender, requests: ScoreRequest[]): void {
  if (model.scoreMany) {
    model.scoreMany(requests);
    return;
  }
  for (const r of requests) model.score(r.user, r.history, r.candidates, r.out);
}

function evaluateSampled(
  model: Recommender,
  split: EvalSplit,
  stage: Stage,
  options: EvalOptions,
): EvalResult {
  const history = historyFor(split, stage);
  const targets = stage === 'valid' ? split.valid : split.test;
  const users = evaluableUsers(split, history, stage, options);
  const ks = cutoffs(options, [5, 10, 20]);
  const count = options.negatives ?? 100;
  const random = new Random(options.seed ?? 0);
  const events = new EventHistory(split, stage);
  const accumulator = new MetricAccumulator();
  const covered = new Set<number>();
  const coverageK = 10;
  for (let start = 0; start < users.length; start += SCORE_CHUNK) {
    const requests: ScoreRequest[] = users.slice(start, start + SCORE_CHUNK).map((u) => {
      const target = userItemsOf(targets, u)[0];
      const given = stage === 'test' ? split.givenNegatives?.get(u) : undefined;
      const negatives =
        given ??
        sampleNegatives(random, split.interactedItems ?? split.numItems, userItemsOf(split.train, u), count);
      const candidates = new Int32Array(negatives.length + 1);
      candidates[0] = target;
      candidates.set(negatives, 1);
      return {
        user: u,
        history: userItemsOf(history, u),
        events: events.of(u),
        candidates,
        out: new Float32Array(candidates.length),
      };
    });
    scoreAll(model, requests);
    for (const { candidates, out: scores } of requests) {
      const rank = sampledRank(scores[0], scores.subarray(1));
      const values: Record<string, number> = {};
      for (const k of ks) {
        values[`HR@${k}`] = sampledHitRate(rank, k);
        values[`NDCG@${k}`] = sampledNdcg(rank, k);
      }
      values.MRR = sampledReciprocalRank(rank);
      values.AUC = sampledAuc(rank);
      accumulator.add(values);
      for (const position of topK(scores, coverageK)) covered.add(candidates[position]);
    }
    options.onProgress?.(Math.min(users.length, start + SCORE_CHUNK), users.length);
  }
  options.onProgress?.(users.length, users.length);
  return {
    protocol: split.protocol,
    stage,
    users: accumulator.users,
    metrics: { ...accumulator.means(), [`Coverage@${coverageK}`]: covered.size / split.numItems },
  };
}

function evaluateFull(model: Recommender, split: EvalSplit, stage: Stage, options: EvalOptions): EvalResult {
  const history = historyFor(split, stage);
  const targets = stage === 'valid' ? split.valid : split.test;
  const users = evaluableUsers(split, history, stage, options);
  const ks = cutoffs(options, [10, 20, 50]);
  const maxK = ks[ks.length - 1];
  const excludeHistory = options.excludeHistory ?? split.protocol !== 'sasrec';
  const allItems = new Int32Array(split.numItems);
  for (let i = 0; i < allItems.length; i++) allItems[i] = i;
  const events = new EventHistory(split, stage);
  const accumulator = new MetricAccumulator();
  const covered = new Set<number>();
  const chunk = Math.max(1, Math.floor(SCORE_CHUNK / 4));
  const buffers = Array.from({ length: chunk }, () => new Float32Array(split.numItems));
  for (let start = 0; start < users.length; start += chunk) {
    const requests: ScoreRequest[] = users.slice(start, start + chunk).map((u, i) => ({
      user: u,
      history: userItemsOf(history, u),
      events: events.of(u),
      candidates: allItems,
      out: buffers[i],
    }));
    scoreAll(model, requests);
    for (const { user: u, history: seen, out: scores } of requests) {
      if (excludeHistory) for (const item of seen) scores[item] = Number.NEGATIVE_INFINITY;
      const positives = new Set(userItemsOf(targets, u));
      if (excludeHistory) for (const item of seen) positives.delete(item);
      if (positives.size === 0) continue;
      const ranked = topK(scores, maxK);
      const values: Record<string, number> = {};
      for (const k of ks) {
        values[`Recall@${k}`] = recallAt(ranked, positives, k);
        values[`NDCG@${k}`] = ndcgAt(ranked, positives, k);
        values[`HR@${k}`] = hitRateAt(ranked, positives, k);
      }
      const { reciprocalRank, auc } = fullRankStatistics(scores, positives);
      values.MRR = reciprocalRank;
      values.AUC = auc;
      accumulator.add(values);
      for (let i = 0; i < Math.min(10, ranked.length); i++) covered.add(ranked[i]);
    }
    options.onProgress?.(Math.min(users.length, start + chunk), users.length);
  }
  options.onProgress?.(users.length, users.length);
  return {
    protocol: split.protocol,
    stage,
    users: accumulator.users,
    metrics: { ...accumulator.means(), 'Coverage@10': covered.size / split.numItems },
  };
}

/**
 * Scores a fitted model on one stage of a split. The same code runs in Node and in the browser.
 * `sasrec`: target vs sampled (or given) negatives; `full` and `temporal`: every item is a candidate.
 */
export function evaluate(
  model: Recommender,
  split: EvalSplit,
  stage: Stage,
  options: EvalOptions = {},
): EvalResult {
  return split.protocol === 'sasrec'
    ? evaluateSampled(model, split, stage, options)
    : evaluateFull(model, split, stage, options);
}

export interface FitOptions {
  seed?: number;
  /** Users sampled for each validation check during fit (early stopping, hyper-parameter choice). */
  validationUsers?: number;
  onProgress?: (done: number, total: number, note?: string) => void;
}

/** Fits a model on a split's training part, giving it a validation-stage scorer (NDCG@10) for model choice. */
export async function fitOnSplit(
  model: Recommender,
  split: EvalSplit,
  options: FitOptions = {},
): Promise<void> {
  const validate = () =>
    evaluate(model, split, 'valid', { seed: options.seed, sampleUsers: options.validationUsers ?? 2000 })
      .metrics['NDCG@10'];
  await model.fit(trainingData(split), { onProgress: options.onProgress, validate });
}
