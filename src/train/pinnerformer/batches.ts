import type { Random } from '../../core/random.ts';
import { timeFeatures } from '../../core/sequence/time-features.ts';
import { type PinnerFormerOptions, TIME_FEATURES } from './config.ts';
import type { ActionSequence } from './sequences.ts';

/** A padded batch, sequences right-aligned (left padding) so the newest action is always the last column. */
export interface SequenceBatch {
  size: number;
  length: number;
  /** [size × length] item per token (0 on padding). */
  items: Int32Array;
  /** [size × length] action code per token. */
  actions: Uint8Array;
  /** [size × length × TIME_FEATURES]. */
  time: Float32Array;
  /** [size × length] 1 on real tokens, 0 on padding. */
  valid: Uint8Array;
  /**
   * Training pairs: position `targetCells[k]` (an index into the [size × length] grid) must predict item
   * `targetItems[k]`. Empty for inference.
   */
  targetCells: Int32Array;
  targetItems: Int32Array;
  /** Which user each row belongs to. */
  users: Int32Array;
}

export interface Example {
  user: number;
  start: number;
  end: number;
}

export type TargetRule = Pick<
  PinnerFormerOptions,
  'objective' | 'horizonDays' | 'horizonActions' | 'maxTargetsPerPosition'
>;

const DAY = 86_400_000;

/** Whether only the final position of a window is trained (else every position is). */
export const finalPositionOnly = (rule: TargetRule): boolean =>
  rule.objective === 'next-action' || rule.objective === 'all-action';

/**
 * The items position t of `sequence` must predict: positive actions after t (never the item of t itself,
 * each item once). Next-action objectives take the first of them; all-action objectives every one within
 * the horizon (days after t's action where there are timestamps, else the next `horizonActions` actions),
 * a seeded random `maxTargetsPerPosition` of them when there are more.
 */
export function positionTargets(
  sequence: ActionSequence,
  t: number,
  rule: TargetRule,
  random: Random,
): number[] {
  const next = rule.objective === 'next-action' || rule.objective === 'sasrec';
  const timed = !Number.isNaN(sequence.ts[t]);
  const limitTs = sequence.ts[t] + rule.horizonDays * DAY;
  const found = new Set<number>();
  for (let j = t + 1; j < sequence.items.length; j++) {
    if (!next && (timed ? sequence.ts[j] > limitTs : j > t + rule.horizonActions)) break;
    if (!sequence.positive[j] || sequence.items[j] === sequence.items[t]) continue;
    found.add(sequence.items[j]);
    if (next) break;
  }
  const targets = [...found];
  if (targets.length <= rule.maxTargetsPerPosition) return targets;
  random.shuffle(targets);
  return targets.slice(0, rule.maxTargetsPerPosition);
}

/**
 * One epoch of training examples: each user with something to predict contributes a window of at most
 * `maxLength` actions. Dense objectives take a random window of long histories, as PinnerFormer samples;
 * final-position objectives a random cut point with at least one action after it to predict.
 */
export function epochExamples(
  sequences: ActionSequence[],
  maxLength: number,
  random: Random,
  finalOnly = false,
): Example[] {
  const examples: Example[] = [];
  sequences.forEach((sequence, user) => {
    const n = sequence.items.length;
    if (n < 2) return;
    let end: number;
    if (finalOnly) end = 1 + random.int(n - 1);
    else end = n <= maxLength ? n : maxLength + random.int(n - maxLength + 1);
    examples.push({ user, start: Math.max(0, end - maxLength), end });
  });
  return examples;
}

/** Groups examples of similar length so batches carry little padding; batch order is shuffled. */
export function bucketExamples(examples: Example[], tokensPerBatch: number, random: Random): Example[][] {
  const order = examples.map((e, i) => ({ e, key: e.end - e.start, tie: random.next(), i }));
  order.sort((a, b) => a.key - b.key || a.tie - b.tie || a.i - b.i);
  const batches: Example[][] = [];
  let current: Example[] = [];
  let longest = 0;
  for (const { e } of order) {
    const length = e.end - e.start;
    if (current.length > 0 && Math.max(longest, length) * (current.length + 1) > tokensPerBatch) {
      batches.push(current);
      current = [];
      longest = 0;
    }
    current.push(e);
    longest = Math.max(longest, length);
  }
  if (current.length > 0) batches.push(current);
  random.shuffle(batches);
  return batches;
}

/** Materialises a batch; `rule` (with its random stream) adds targets, or none for inference. */
export function buildBatch(
  sequences: ActionSequence[],
  examples: Example[],
  rule?: { rule: TargetRule; random: Random },
): SequenceBatch {
  const size = examples.length;
  const length = Math.max(1, ...examples.map((e) => e.end - e.start));
  const items = new Int32Array(size * length);
  const actions = new Uint8Array(size * length);
  const time = new Float32Array(size * length * TIME_FEATURES);
  const valid = new Uint8Array(size * length);
  const users = new Int32Array(size);
  const cells: number[] = [];
  const targetItems: number[] = [];
  const finalOnly = rule ? finalPositionOnly(rule.rule) : false;
  examples.forEach((example, b) => {
    const sequence = sequences[example.user];
    const n = example.end - example.start;
    const pad = length - n;
    users[b] = example.user;
    for (let k = 0; k < n; k++) {
      const t = example.start + k;
      const cell = b * length + pad + k;
      items[cell] = sequence.items[t];
      actions[cell] = sequence.actions[t];
      valid[cell] = 1;
      if (rule && (!finalOnly || k === n - 1)) {
        for (const item of positionTargets(sequence, t, rule.rule, rule.random)) {
          cells.push(cell);
          targetItems.push(item);
        }
      }
    }
    if (n > 0)
      timeFeatures(sequence.ts, example.start, example.end, time, (b * length + pad) * TIME_FEATURES);
  });
  return {
    size,
    length,
    items,
    actions,
    time,
    valid,
    targetCells: Int32Array.from(cells),
    targetItems: Int32Array.from(targetItems),
    users,
  };
}
