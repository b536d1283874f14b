import type { Random } from '../../core/random.ts';
import { timeFeatures } from '../../core/sequence/time-features.ts';
import { TIME_FEATURES } from './config.ts';
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
  /** [size × length] the item each position must predict, or -1 (padding, no positive ahead). */
  targets: Int32Array;
  /** Which user each row belongs to. */
  users: Int32Array;
}

export interface Example {
  user: number;
  start: number;
  end: number;
}

export interface TargetRule {
  window: number;
  windowDays: number;
}

/**
 * Dense all-action targets: for each position, a random positive among the next `window` actions (and
 * within `windowDays` where there are timestamps), never the item of the position itself.
 */
export function pickTarget(sequence: ActionSequence, t: number, rule: TargetRule, random: Random): number {
  const limitTs = sequence.ts[t] + rule.windowDays * 86_400_000;
  const candidates: number[] = [];
  for (let j = t + 1; j < sequence.items.length && j <= t + rule.window; j++) {
    if (!Number.isNaN(sequence.ts[t]) && sequence.ts[j] > limitTs) break;
    if (sequence.positive[j] && sequence.items[j] !== sequence.items[t]) candidates.push(sequence.items[j]);
  }
  return candidates.length === 0 ? -1 : candidates[random.int(candidates.length)];
}

/**
 * One epoch of training examples: each user with something to predict contributes a window of at most
 * `maxLength` actions (a random one for long histories, as PinnerFormer samples).
 */
export function epochExamples(sequences: ActionSequence[], maxLength: number, random: Random): Example[] {
  const examples: Example[] = [];
  sequences.forEach((sequence, user) => {
    const n = sequence.items.length;
    if (n < 2) return;
    const end = n <= maxLength ? n : maxLength + random.int(n - maxLength + 1);
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
  const targets = new Int32Array(size * length).fill(-1);
  const users = new Int32Array(size);
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
      if (rule) targets[cell] = pickTarget(sequence, t, rule.rule, rule.random);
    }
    if (n > 0)
      timeFeatures(sequence.ts, example.start, example.end, time, (b * length + pad) * TIME_FEATURES);
  });
  return { size, length, items, actions, time, valid, targets, users };
}
