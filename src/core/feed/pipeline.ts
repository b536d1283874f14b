import { RANKER_HEADS, type RankerHead } from '../bundle/index.ts';
import { POSITIVE_CODES } from '../interactions.ts';
import {
  DEFAULT_INTEREST_OPTIONS,
  type EngagedPin,
  type InterestOptions,
  mergeByQuota,
  userInterests,
} from '../interests/index.ts';
import { CONTEXT_DIM, contextFeatures, mmrSelect, utility } from '../ranking/index.ts';
import { exclusionBitset, isExcluded, itemRows, writeItemRow } from '../retrieval/index.ts';
import type { ActionWindow } from '../sequence/index.ts';
import { slabCopyI32, slabF32, slabI32 } from '../typed-slab.ts';
import { interestReason, reasonFor } from './reasons.ts';
import type { FeedAllocator } from './sequence-feeds.ts';
import type {
  FeedAction,
  FeedItem,
  FeedModel,
  FeedRequest,
  FeedResult,
  FeedRunners,
  FeedStage,
} from './types.ts';

/** Actions the reasons look back over. */
const REASON_ACTIONS = 32;

/**
 * One feed request, the same in the browser engine and in the replay evaluation:
 *   1. encode: the compact encoder over the newest actions, blended with the server's long-term embedding;
 *   2. retrieve: the top candidates of that query over everything not hidden, excluded or (unless asked)
 *      already acted on — with `interests: 'multi'`, also of the medoids of the user's PinnerSage
 *      interests, in one batch, merged by importance quotas; no query at all falls back to popularity;
 *   3. rank: the ranker's per-head probabilities, utility = Σ w·P;
 *   4. rerank: MMR diversity, then a reason per pin.
 * Pure apart from the injected runners; `onStage` marks the end of each stage for callers that time them.
 */
export async function recommendFeed(
  model: FeedModel,
  runners: FeedRunners,
  request: FeedRequest,
  onStage: (stage: FeedStage) => void = () => {},
  /**
   * The ranker's four [candidates × …] inputs (`user_long`, `user_short`, `item`, `context`, ~160 kB at
   * 200 candidates). The engine hands out the same arrays every request (a FeedScratch), so they add
   * nothing to the external memory whose growth sets off V8's full collections; by default, slab views.
   */
  allocate: FeedAllocator = (_name, length) => slabF32(length),
): Promise<FeedResult> {
  const { table } = model;
  const dim = table.dim;
  const { actions, k } = request;

  // 1. The real-time embedding, blended with the long-term one.
  const window: ActionWindow = {
    items: actions.map((a) => a.item),
    actions: actions.map((a) => a.action),
    ts: actions.map((a) => a.ts),
  };
  const short = request.realtime === false || actions.length === 0 ? undefined : await runners.encode(window);
  const long = request.longTerm;
  const query = blend(long, short, request.longTermWeight, dim);
  onStage('encode');

  // 2. Retrieval over everything not filtered out.
  const hidden = new Set(request.hidden);
  const excluded = new Set<number>([...hidden, ...(request.exclude ?? [])]);
  if (!request.includeSeen) for (const a of actions) excluded.add(a.item);
  const bits = exclusionBitset(table.count, excluded);
  const n = Math.max(k, request.candidates);
  const options: InterestOptions = { ...DEFAULT_INTEREST_OPTIONS, ...request.interestOptions };
  const engaged = request.interests === 'multi' ? engagedPins(actions, hidden, options.maxPins) : [];
  const interests = userInterests(
    engaged,
    itemRows(
      table,
      engaged.map((p) => p.item),
    ),
    dim,
    request.now,
    options,
  ).slice(0, options.maxInterests);
  let candidates: Int32Array;
  // For each candidate, the interest that retrieved it (−1: the single query or popularity).
  let origin: Int32Array;
  if (query && interests.length === 0) {
    [candidates] = await runners.retrieve([query], n, bits);
    origin = slabI32(candidates.length).fill(-1);
  } else if (interests.length > 0) {
    const medoidQueries = interests.map((c) => normalise(itemRows(table, [engaged[c.medoid].item]))!);
    const queries = query ? [query, ...medoidQueries] : medoidQueries;
    const total = interests.reduce((s, c) => s + c.importance, 0);
    const share = query ? options.singleShare : 0;
    const weights = interests.map((c) => ((1 - share) * c.importance) / total);
    const lists = await runners.retrieve(queries, n, bits);
    const merged = mergeByQuota(lists, query ? [share, ...weights] : weights, n);
    candidates = merged.items;
    origin = merged.source;
    if (query) for (let c = 0; c < origin.length; c++) origin[c] -= 1;
  } else {
    const rows: number[] = [];
    for (const i of model.popular) {
      if (rows.length >= n) break;
      if (!isExcluded(bits, i)) rows.push(i);
    }
    candidates = slabCopyI32(rows);
    origin = slabI32(candidates.length).fill(-1);
  }
  onStage('retrieve');

  // 3. The ranker: one row per candidate.
  const size = candidates.length;
  const rows = allocate('item', size * dim);
  const inputs = {
    size,
    dim,
    userLong: allocate('user_long', size * dim),
    userShort: allocate('user_short', size * dim),
    item: rows,
    context: allocate('context', size * CONTEXT_DIM),
    window,
  };
  // Reused arrays hold the last request's values: every element is written.
  if (!long) inputs.userLong.fill(0);
  if (!short) inputs.userShort.fill(0);
  for (let c = 0; c < size; c++) {
    if (long) inputs.userLong.set(long, c * dim);
    if (short) inputs.userShort.set(short, c * dim);
    const i = candidates[c];
    writeItemRow(table, i, rows, c * dim);
    const stats = {
      positives: model.stats.positives[i],
      impressions: model.stats.impressions[i],
      firstSeen: model.stats.firstSeen[i],
    };
    contextFeatures(stats, request.counts, request.now, inputs.context, c * CONTEXT_DIM);
  }
  const probs = size === 0 ? new Float32Array(0) : await runners.rank(inputs);
  const heads = RANKER_HEADS.length;
  const utilities = slabF32(size);
  for (let c = 0; c < size; c++) utilities[c] = utility(probs, c * heads, request.weights);
  onStage('rank');

  // 4. Diversity, then reasons.
  const picked = mmrSelect(utilities, rows, dim, k, request.diversity);
  const recent = actions.filter((a) => !hidden.has(a.item)).slice(-REASON_ACTIONS);
  const reasons = {
    recent,
    recentRows: itemRows(
      table,
      recent.map((a) => a.item),
    ),
    recentTopics: new Set(recent.flatMap((a) => model.catalog.topics[a.item])),
  };
  const items: FeedItem[] = Array.from(picked, (c) => {
    const item = candidates[c];
    const probabilities = Object.fromEntries(
      RANKER_HEADS.map((head, h) => [head, probs[c * heads + h]]),
    ) as Record<RankerHead, number>;
    const from = origin[c];
    return {
      item,
      utility: utilities[c],
      probabilities,
      reason:
        from >= 0
          ? interestReason(model, engaged[interests[from].medoid].item)
          : reasonFor(model, rows.subarray(c * dim, (c + 1) * dim), item, reasons),
    };
  });
  onStage('rerank');
  return {
    items,
    ...(query ? { query } : {}),
    ...(short ? { short } : {}),
    interests: interests.map((c) => ({
      medoid: engaged[c.medoid].item,
      importance: c.importance,
      size: c.members.length,
    })),
  };
}

/** w·long + (1 − w)·short, unit length; one alone when the other is missing; none without either. */
export function blend(
  long: Float32Array | undefined,
  short: Float32Array | undefined,
  longTermWeight: number,
  dim: number,
): Float32Array | undefined {
  const w = long && short ? longTermWeight : long ? 1 : 0;
  const mixed = slabF32(dim);
  for (let d = 0; d < dim; d++) mixed[d] = w * (long?.[d] ?? 0) + (1 - w) * (short?.[d] ?? 0);
  return normalise(mixed);
}

/** `v` scaled to unit length in place (undefined if it is zero or not finite). */
function normalise(v: Float32Array): Float32Array | undefined {
  let s = 0;
  for (const x of v) s += x * x;
  if (!(s > 0)) return undefined;
  const norm = Math.sqrt(s);
  for (let d = 0; d < v.length; d++) v[d] /= norm;
  return v;
}

/** The newest `max` distinct engaged (click, close-up, save) pins not hidden, with every engagement time. */
export function engagedPins(
  actions: readonly FeedAction[],
  hidden: ReadonlySet<number>,
  max: number,
): EngagedPin[] {
  const byItem = new Map<number, number[]>();
  for (let i = actions.length - 1; i >= 0; i--) {
    const a = actions[i];
    if (!POSITIVE_CODES.has(a.action) || hidden.has(a.item)) continue;
    const times = byItem.get(a.item);
    if (times) times.push(a.ts);
    else if (byItem.size < max) byItem.set(a.item, [a.ts]);
  }
  // Oldest first, as the actions came: the clustering's tie order is then the order of engagement.
  return [...byItem].reverse().map(([item, times]) => ({ item, times: times.reverse() }));
}
