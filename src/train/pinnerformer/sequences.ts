import type { TrainingData, UserEvents } from '../../core/eval/model.ts';
import {
  groupRowsByUser,
  type InteractionLog,
  NON_IMPRESSION_CODES,
  POSITIVE_CODES,
} from '../../core/interactions.ts';

export { timeFeatures } from '../../core/sequence/time-features.ts';

/** One user's action sequence, oldest first: what the encoder reads. */
export interface ActionSequence {
  items: Int32Array;
  actions: Uint8Array;
  /** Milliseconds, or NaN where the data set has no clock. */
  ts: Float64Array;
  /** 1 where the action is a positive (a training target), else 0. */
  positive: Uint8Array;
}

const EMPTY: ActionSequence = {
  items: new Int32Array(0),
  actions: new Uint8Array(0),
  ts: new Float64Array(0),
  positive: new Uint8Array(0),
};

/**
 * Every user's non-impression actions (clicks, close-ups, saves, hides), oldest first. Impressions are
 * exposure, not intent, and would crowd the last M positions; hides stay as negative context.
 */
export function actionSequences(
  log: InteractionLog,
  numUsers: number,
  hasTimestamps: boolean,
): ActionSequence[] {
  const { offsets, rows } = groupRowsByUser(log, numUsers);
  const out: ActionSequence[] = [];
  for (let u = 0; u < numUsers; u++) {
    const mine: number[] = [];
    for (let i = offsets[u]; i < offsets[u + 1]; i++)
      if (NON_IMPRESSION_CODES.has(log.action[rows[i]])) mine.push(rows[i]);
    if (mine.length === 0) {
      out.push(EMPTY);
      continue;
    }
    out.push({
      items: Int32Array.from(mine, (r) => log.item[r]),
      actions: Uint8Array.from(mine, (r) => log.action[r]),
      ts: Float64Array.from(mine, (r) => (hasTimestamps ? log.ts[r] : Number.NaN)),
      positive: Uint8Array.from(mine, (r) => (POSITIVE_CODES.has(log.action[r]) ? 1 : 0)),
    });
  }
  return out;
}

/** The sequences a model trains on: from the training log when it has actions, else the positive items. */
export function trainingSequences(data: TrainingData): ActionSequence[] {
  const sequences = actionSequences(data.log, data.numUsers, data.hasTimestamps);
  return sequences;
}

/** A history of positive items only (what the harness gives every model), as clicks without times. */
export function sequenceFromItems(items: Int32Array): ActionSequence {
  return {
    items,
    actions: new Uint8Array(items.length).fill(1),
    ts: new Float64Array(items.length).fill(Number.NaN),
    positive: new Uint8Array(items.length).fill(1),
  };
}

/** The encoder's input from a user's raw events: the same filter as training (no impressions). */
export function sequenceFromEvents(events: UserEvents, hasTimestamps: boolean): ActionSequence {
  const keep: number[] = [];
  for (let i = 0; i < events.items.length; i++) if (NON_IMPRESSION_CODES.has(events.actions[i])) keep.push(i);
  return {
    items: Int32Array.from(keep, (i) => events.items[i]),
    actions: Uint8Array.from(keep, (i) => events.actions[i]),
    ts: Float64Array.from(keep, (i) => (hasTimestamps ? events.ts[i] : Number.NaN)),
    positive: Uint8Array.from(keep, (i) => (POSITIVE_CODES.has(events.actions[i]) ? 1 : 0)),
  };
}
