/**
 * The ranker's context features, computed by this one function in training (Node) and at serving time
 * (the browser engine), so both see exactly the same numbers. Counts enter as log1p: they span orders of
 * magnitude. The ranker graph standardises them with constants learnt from its training examples.
 */
export const CONTEXT_FEATURES = [
  'item_log_positives',
  'item_log_impressions',
  'item_log_age_days',
  'user_log_clicks',
  'user_log_closeups',
  'user_log_saves',
  'user_log_hides',
] as const;
export const CONTEXT_DIM = CONTEXT_FEATURES.length;

/** What is known about an item as of the last snapshot (the bundle's data, or the server's refresh). */
export interface ItemStats {
  positives: number;
  impressions: number;
  /** First time the item was seen (ms since the epoch), or null when never. */
  firstSeen: number | null;
}

/** The user's action counts before the request. */
export interface UserActionCounts {
  click: number;
  closeup: number;
  save: number;
  hide: number;
}

const DAY = 86_400_000;

export function contextFeatures(
  item: ItemStats,
  user: UserActionCounts,
  now: number,
  out: Float32Array,
  offset: number,
): void {
  const age = item.firstSeen === null || Number.isNaN(now) ? 0 : Math.max(0, now - item.firstSeen) / DAY;
  out[offset] = Math.log1p(item.positives);
  out[offset + 1] = Math.log1p(item.impressions);
  out[offset + 2] = Math.log1p(age);
  out[offset + 3] = Math.log1p(user.click);
  out[offset + 4] = Math.log1p(user.closeup);
  out[offset + 5] = Math.log1p(user.save);
  out[offset + 6] = Math.log1p(user.hide);
}
