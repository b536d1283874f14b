import { RANKER_HEADS } from '../../core/bundle/manifest.ts';
import { ACTION_CODE } from '../../core/events.ts';
import { groupRowsByUser, type InteractionLog, NON_IMPRESSION_CODES } from '../../core/interactions.ts';
import type { Random } from '../../core/random.ts';
import { CONTEXT_DIM, contextFeatures, type ItemStats } from '../../core/ranking/index.ts';

/** A new session starts after this much silence; its short-term embedding is taken at its start. */
export const SESSION_GAP_MS = 30 * 60_000;
/** An action on an impressed item counts for that impression when it follows within this time. */
export const LABEL_WINDOW_MS = 60 * 60_000;
/** Data sets without impressions: sampled non-engaged candidates per engaged one. */
export const SAMPLED_NEGATIVES = 4;

const HEAD_CODES = RANKER_HEADS.map((h) => ACTION_CODE[h]);

/** One session of one user: the point in time at which the device computes the short-term embedding. */
export interface Session {
  user: number;
  start: number;
}

/**
 * Ranker examples of one time window: one row per impression (or per engaged / sampled candidate where
 * the data has no impressions). Embeddings are referenced, not copied: `user` indexes the long-term
 * snapshot, `session` the short-term embeddings.
 */
export interface RankerExamples {
  size: number;
  user: Int32Array;
  session: Int32Array;
  item: Int32Array;
  /** [size × CONTEXT_DIM]. */
  context: Float32Array;
  /** [size × 4] 0/1 per head, RANKER_HEADS order. */
  labels: Uint8Array;
  sessions: Session[];
}

/** Item statistics from the rows before `before` (a snapshot, as the server refreshes them). */
export function itemStatsBefore(log: InteractionLog, numItems: number, before: number): ItemStats[] {
  const stats: ItemStats[] = Array.from({ length: numItems }, () => ({
    positives: 0,
    impressions: 0,
    firstSeen: null,
  }));
  for (let r = 0; r < log.length; r++) {
    if (!(log.ts[r] < before)) continue;
    const s = stats[log.item[r]];
    const a = log.action[r];
    if (a === ACTION_CODE.impression) s.impressions++;
    else if (a !== ACTION_CODE.hide) s.positives++;
    if (s.firstSeen === null || log.ts[r] < s.firstSeen) s.firstSeen = log.ts[r];
  }
  return stats;
}

/**
 * Builds the examples of impressions in [from, to). Labels: the user's click / close-up / save / hide of
 * the impressed item within LABEL_WINDOW_MS after it. Context: item statistics as of `from` (the snapshot
 * the model would have had), the user's action counts before the session.
 */
export function buildExamples(
  log: InteractionLog,
  numUsers: number,
  numItems: number,
  window: { from: number; to: number },
  random: Random,
): RankerExamples {
  const stats = itemStatsBefore(log, numItems, window.from);
  const { offsets, rows } = groupRowsByUser(log, numUsers);
  let hasImpressions = false;
  for (let r = 0; r < log.length && !hasImpressions; r++)
    hasImpressions = log.action[r] === ACTION_CODE.impression;

  const user: number[] = [];
  const session: number[] = [];
  const item: number[] = [];
  const context: number[] = [];
  const labels: number[] = [];
  const sessions: Session[] = [];
  const scratch = new Float32Array(CONTEXT_DIM);
  for (let u = 0; u < numUsers; u++) {
    const mine = rows.subarray(offsets[u], offsets[u + 1]);
    const counts = { click: 0, closeup: 0, save: 0, hide: 0 };
    let sessionIndex = -1;
    let lastTs = Number.NEGATIVE_INFINITY;
    const pending: number[] = [];
    for (let i = 0; i < mine.length; i++) {
      const r = mine[i];
      const ts = log.ts[r];
      const inWindow = ts >= window.from && ts < window.to;
      if (inWindow && (sessionIndex < 0 || ts - lastTs > SESSION_GAP_MS)) {
        sessions.push({ user: u, start: ts });
        sessionIndex = sessions.length - 1;
      }
      lastTs = ts;
      const a = log.action[r];
      const candidate = hasImpressions ? a === ACTION_CODE.impression : NON_IMPRESSION_CODES.has(a);
      if (inWindow && candidate) {
        const add = (it: number, labelled: boolean) => {
          user.push(u);
          session.push(sessionIndex);
          item.push(it);
          contextFeatures(stats[it], counts, sessions[sessionIndex].start, scratch, 0);
          context.push(...scratch);
          for (const code of HEAD_CODES) labels.push(labelled ? labelOf(log, mine, i, it, code) : 0);
        };
        add(log.item[r], true);
        if (!hasImpressions) for (let k = 0; k < SAMPLED_NEGATIVES; k++) add(random.int(numItems), false);
      }
      // Counts and history advance only across session boundaries: within a session the device would not
      // yet have re-encoded, and the labels of this session must not leak into its own features.
      const next = i + 1 < mine.length ? log.ts[mine[i + 1]] : Number.POSITIVE_INFINITY;
      if (NON_IMPRESSION_CODES.has(a)) pending.push(r);
      if (next - ts > SESSION_GAP_MS || next >= window.to || ts < window.from) {
        for (const p of pending) {
          const code = log.action[p];
          if (code === ACTION_CODE.click) counts.click++;
          else if (code === ACTION_CODE.closeup) counts.closeup++;
          else if (code === ACTION_CODE.save) counts.save++;
          else if (code === ACTION_CODE.hide) counts.hide++;
        }
        pending.length = 0;
      }
    }
  }
  return {
    size: item.length,
    user: Int32Array.from(user),
    session: Int32Array.from(session),
    item: Int32Array.from(item),
    context: Float32Array.from(context),
    labels: Uint8Array.from(labels),
    sessions,
  };
}

/** 1 when the user did `code` on `item` within the label window after row mine[i]. */
function labelOf(log: InteractionLog, mine: Int32Array, i: number, item: number, code: number): number {
  const t0 = log.ts[mine[i]];
  // Rows at the same instant may come in either order (a rating is its own impression).
  let first = i;
  while (first > 0 && log.ts[mine[first - 1]] === t0) first--;
  for (let j = first; j < mine.length; j++) {
    const r = mine[j];
    if (log.ts[r] - t0 > LABEL_WINDOW_MS) break;
    if (log.item[r] === item && log.action[r] === code) return 1;
  }
  return 0;
}

/** Positive rate of each head. */
export function headRates(examples: RankerExamples): number[] {
  const rates = RANKER_HEADS.map(() => 0);
  for (let n = 0; n < examples.size; n++)
    for (let h = 0; h < RANKER_HEADS.length; h++) rates[h] += examples.labels[n * RANKER_HEADS.length + h];
  return rates.map((c) => c / Math.max(1, examples.size));
}
