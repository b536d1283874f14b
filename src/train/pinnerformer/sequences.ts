import type { TrainingData, UserEvents } from '../../core/eval/model.ts';
import {
  groupRowsByUser,
  type InteractionLog,
  NON_IMPRESSION_CODES,
  POSITIVE_CODES,
} from '../../core/interactions.ts';
import { TIME_FEATURES, TIME_PERIODS_HOURS } from './config.ts';

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

const HOUR = 3_600_000;

/**
 * PinnerFormer's time features of each token, written into `out` at `offset` (TIME_FEATURES per token):
 * log hours since the latest action, log hours since the previous action, sin/cos of the absolute time for
 * each period. Without timestamps all are zero, and order alone (positions) carries time.
 */
export function timeFeatures(
  ts: Float64Array,
  start: number,
  end: number,
  out: Float32Array,
  offset: number,
): void {
  const latest = ts[end - 1];
  for (let t = start; t < end; t++) {
    const base = offset + (t - start) * TIME_FEATURES;
    if (Number.isNaN(ts[t])) {
      out.fill(0, base, base + TIME_FEATURES);
      continue;
    }
    out[base] = Math.log1p(Math.max(0, latest - ts[t]) / HOUR);
    out[base + 1] = t > start ? Math.log1p(Math.max(0, ts[t] - ts[t - 1]) / HOUR) : 0;
    const hours = ts[t] / HOUR;
    TIME_PERIODS_HOURS.forEach((period, p) => {
      const angle = (2 * Math.PI * (hours % period)) / period;
      out[base + 2 + 2 * p] = Math.sin(angle);
      out[base + 3 + 2 * p] = Math.cos(angle);
    });
  }
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
