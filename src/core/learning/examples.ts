import { ACTION_CODE } from '../events.ts';
import { POSITIVE_CODES } from '../interactions.ts';
import { derivedRandom } from '../random.ts';
import type { LearningOptions } from './options.ts';

/** One local event as the learner reads it: the bundle's item row, the action code, the time (ms). */
export interface LearningEvent {
  item: number;
  action: number;
  ts: number;
}

/**
 * The training set of one learning run. Rows are positives then negatives; a positive is one engagement
 * (several on one pin all count), a negative one distinct pin.
 */
export interface LearningExamples {
  /** Item rows of the positives, then of the negatives. */
  items: Int32Array;
  positives: number;
  /** Per positive, its weight (time-decayed, summing to 1). */
  positiveWeights: Float32Array;
  /** Per negative, the log of its weight in the softmax's denominator (log-Q correction for sampled ones). */
  negativeLogWeights: Float32Array;
  /** Counts, for the learning state the engine shows. */
  counts: { positives: number; hides: number; implicit: number; sampled: number };
}

const DAY_MS = 86_400_000;

/**
 * The examples of the newest `maxEvents` events (any order in; read oldest first):
 *   - positives: clicks, close-ups and saves on pins not hidden afterwards, weighted 2^(−age/half-life)
 *     by their age before the newest event;
 *   - explicit negatives: hidden pins (weight `hideWeight`);
 *   - implicit negatives: pins shown and never engaged or hidden, the newest `maxImplicit` (`implicitWeight`);
 *   - sampled negatives: `sampled` pins drawn uniformly from the table (not positives), each standing for
 *     numItems / sampled pins (the log-Q correction), so the softmax approximates one over the whole table.
 * The draw is seeded by (seed, event count, newest item): the same events give the same examples.
 * Undefined when there is no positive: nothing pulls the embedding anywhere, so the prior stays.
 */
export function learningExamples(
  events: readonly LearningEvent[],
  numItems: number,
  options: Pick<
    LearningOptions,
    'halfLifeDays' | 'hideWeight' | 'implicitWeight' | 'sampled' | 'maxImplicit' | 'maxEvents' | 'seed'
  >,
): LearningExamples | undefined {
  const sorted = [...events].sort((a, b) => a.ts - b.ts || a.item - b.item || a.action - b.action);
  const held = sorted.slice(Math.max(0, sorted.length - options.maxEvents));
  const hidden = new Set<number>();
  const engaged = new Set<number>();
  for (const e of held) {
    if (e.action === ACTION_CODE.hide) hidden.add(e.item);
    else if (POSITIVE_CODES.has(e.action)) engaged.add(e.item);
  }
  const newest = held.length > 0 ? held[held.length - 1].ts : 0;
  const positives: number[] = [];
  const weights: number[] = [];
  for (const e of held) {
    if (!POSITIVE_CODES.has(e.action) || hidden.has(e.item)) continue;
    positives.push(e.item);
    const age = Number.isFinite(newest - e.ts) ? Math.max(0, newest - e.ts) : 0;
    weights.push(options.halfLifeDays > 0 ? 2 ** (-age / (options.halfLifeDays * DAY_MS)) : 1);
  }
  if (positives.length === 0) return undefined;
  const total = weights.reduce((s, w) => s + w, 0);

  const negatives: number[] = [];
  const logWeights: number[] = [];
  const taken = new Set<number>();
  const add = (item: number, weight: number) => {
    if (taken.has(item)) return;
    taken.add(item);
    negatives.push(item);
    logWeights.push(Math.log(weight));
  };
  for (const item of [...hidden].sort((a, b) => a - b)) add(item, options.hideWeight);
  const hides = negatives.length;
  let implicit = 0;
  for (let i = held.length - 1; i >= 0 && implicit < options.maxImplicit && options.implicitWeight > 0; i--) {
    const e = held[i];
    if (e.action !== ACTION_CODE.impression || engaged.has(e.item) || taken.has(e.item)) continue;
    add(e.item, options.implicitWeight);
    implicit++;
  }
  const random = derivedRandom(options.seed, held.length, held[held.length - 1].item);
  const positiveSet = new Set(positives);
  let sampled = 0;
  if (numItems > positiveSet.size)
    for (let s = 0; s < options.sampled; s++) {
      let item = random.int(numItems);
      while (positiveSet.has(item)) item = random.int(numItems);
      // Drawn with replacement, so a pin drawn twice counts twice in the estimate of the partition function.
      negatives.push(item);
      logWeights.push(Math.log(numItems / options.sampled));
      sampled++;
    }
  return {
    items: Int32Array.from([...positives, ...negatives]),
    positives: positives.length,
    positiveWeights: Float32Array.from(weights, (w) => w / total),
    negativeLogWeights: Float32Array.from(logWeights),
    counts: { positives: positives.length, hides, implicit, sampled },
  };
}
