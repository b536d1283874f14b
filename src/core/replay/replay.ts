import type { RankerHead } from '../bundle/index.ts';
import { ACTION_CODE } from '../events.ts';
import {
  type FeedAction,
  type FeedModel,
  type FeedRequest,
  type FeedRunners,
  recommendFeed,
} from '../feed/index.ts';
import { type InteractionLog, NON_IMPRESSION_CODES, POSITIVE_CODES } from '../interactions.ts';
import { derivedRandom } from '../random.ts';
import { type ReplayMetric, slateMetrics, UserMeans } from './metrics.ts';
import { replaySample } from './pack.ts';
import { type ReplaySession, replaySessions, sessionTruth } from './sessions.ts';
import type { ReplayEvent, ReplayVariant } from './variants.ts';

/** The engine's defaults (src/engine/engine.ts), which the replay mirrors. */
export const REPLAY_DEFAULTS = {
  k: 20,
  candidates: 200,
  diversity: 0.8,
  longTermWeight: 0.5,
  /** The engine reads the newest 500 events of its log. */
  deviceEvents: 500,
  /** Sampled non-engaged pins per engaged one, where a data set has no real impressions (as the ranker's). */
  standIns: 4,
} as const;

export interface ReplayInput {
  /** The data set's events, item indices = the bundle's catalog rows. */
  log: InteractionLog;
  numUsers: number;
  /** The held-out window: sessions starting in [from, to) are replayed. */
  window: { from: number; to: number };
  /** The server's long-term embeddings as of `window.from`, [users × dim]; a zero row = none. */
  longTerm: Float32Array;
  /** The bundle, with item statistics as of `window.from`. */
  model: FeedModel;
  /** The bundle's utility weights: the ranker's blend and the realised gains of utility NDCG. */
  weights: Record<RankerHead, number>;
  /** Whether to draw stand-in impressions; default: judged on `log` (a pack judges on the whole data set). */
  standIns?: boolean;
}

export interface ReplayOptions {
  seed: number;
  k?: number;
  candidates?: number;
  diversity?: number;
  longTermWeight?: number;
  deviceEvents?: number;
  standIns?: number;
  /** Replay a seeded sample of this many users (default all). */
  maxUsers?: number;
  onProgress?: (variant: string, done: number, total: number) => void;
}

export interface ReplayRow {
  variant: string;
  /** Users with at least one request that had engaged pins to find. */
  users: number;
  /** Feed requests replayed (every session in the window). */
  requests: number;
  metrics: Record<ReplayMetric, number>;
}

export interface ReplayReport {
  users: number;
  requests: number;
  /** Whether the stand-in impressions were drawn (the data set has no impressions the user ignored). */
  standIns: boolean;
  rows: ReplayRow[];
}

/**
 * The replay evaluation: each user of the window, their sessions in time order; at each session's start
 * the device (as the variant shapes it) asks the feed pipeline for a slate from what it holds — every event
 * before the request, the server's embedding as of the window's start — and the slate is scored against
 * what the user did in that session. Then the device observes the session's events and the next begins.
 */
export async function runReplay(
  input: ReplayInput,
  runners: FeedRunners,
  variants: readonly ReplayVariant[],
  options: ReplayOptions,
): Promise<ReplayReport> {
  const settings = { ...REPLAY_DEFAULTS, ...definedOnly(options) };
  const { log, model } = input;
  const dim = model.table.dim;
  const numItems = model.table.count;
  const sessions = replaySessions(log, input.numUsers, input.window);
  const users = replaySample(log, input.numUsers, input.window, options.seed, options.maxUsers);
  const requests = users.reduce((n, u) => n + sessions[u].length, 0);
  const standIns = input.standIns ?? !hasIgnoredImpressions(log, numItems);
  const event = (r: number): ReplayEvent => ({ item: log.item[r], action: log.action[r], ts: log.ts[r] });
  const rows: ReplayRow[] = [];
  let scoredUsers = 0;
  for (const variant of variants) {
    const means = new UserMeans();
    let done = 0;
    for (const u of users) {
      const mine = sessions[u];
      const long = input.longTerm.subarray(u * dim, (u + 1) * dim);
      const device = await variant.start({
        user: u,
        table: model.table,
        ...(long.some((x) => x !== 0) ? { longTerm: long } : {}),
        history: Array.from(mine[0].before, event),
        from: input.window.from,
      });
      for (let s = 0; s < mine.length; s++) {
        const session = mine[s];
        const state = deviceState(log, session.before, settings.deviceEvents);
        const base: FeedRequest = {
          k: settings.k,
          actions: state.actions,
          hidden: state.hidden,
          ...(long.some((x) => x !== 0) ? { longTerm: long } : {}),
          longTermWeight: settings.longTermWeight,
          counts: state.counts,
          now: session.start,
          weights: input.weights,
          diversity: settings.diversity,
          candidates: settings.candidates,
        };
        const feed = await recommendFeed(model, runners, await device.request(base));
        const unavailable = new Set([...state.hidden, ...state.actions.map((a) => a.item)]);
        const truth = sessionTruth(log, session, unavailable);
        means.add(
          u,
          slateMetrics(
            feed.items.map((i) => i.item),
            truth,
            input.weights,
          ),
        );
        if (device.observe) {
          const events = Array.from(session.rows, event);
          if (standIns) events.push(...standInImpressions(log, session, numItems, options.seed, s));
          await device.observe(events.sort((a, b) => a.ts - b.ts));
        }
        options.onProgress?.(variant.name, ++done, requests);
      }
    }
    scoredUsers = means.users;
    rows.push({ variant: variant.name, users: means.users, requests, metrics: means.means() });
  }
  return { users: scoredUsers, requests, standIns, rows };
}

/** What the device holds before a request: the engine's view of its event log and user state. */
export function deviceState(
  log: InteractionLog,
  before: ArrayLike<number>,
  deviceEvents: number,
): {
  actions: FeedAction[];
  hidden: Set<number>;
  counts: { click: number; closeup: number; save: number; hide: number };
} {
  const hidden = new Set<number>();
  const counts = { click: 0, closeup: 0, save: 0, hide: 0 };
  for (let i = 0; i < before.length; i++) {
    const r = before[i];
    const code = log.action[r];
    if (code === ACTION_CODE.click) counts.click++;
    else if (code === ACTION_CODE.closeup) counts.closeup++;
    else if (code === ACTION_CODE.save) counts.save++;
    else if (code === ACTION_CODE.hide) {
      counts.hide++;
      hidden.add(log.item[r]);
    }
  }
  const actions: FeedAction[] = [];
  for (let i = Math.max(0, before.length - deviceEvents); i < before.length; i++) {
    const r = before[i];
    if (NON_IMPRESSION_CODES.has(log.action[r]))
      actions.push({ item: log.item[r], action: log.action[r], ts: log.ts[r] });
  }
  return { actions, hidden, counts };
}

/**
 * True when some impression was not followed by any action of that user on that item: the data set
 * records what users ignored. MovieLens-style data (every rating an impression) does not.
 */
export function hasIgnoredImpressions(log: InteractionLog, numItems: number): boolean {
  const acted = new Set<number>();
  for (let r = 0; r < log.length; r++)
    if (log.action[r] !== ACTION_CODE.impression) acted.add(log.user[r] * numItems + log.item[r]);
  for (let r = 0; r < log.length; r++)
    if (log.action[r] === ACTION_CODE.impression && !acted.has(log.user[r] * numItems + log.item[r]))
      return true;
  return false;
}

/**
 * Stand-in impressions of a session: per engaged event, `standIns` pins drawn uniformly from those the user
 * did not engage with in it, at the engaged event's time; seeded by (seed, user, session) so every variant
 * sees the same ones.
 */
export function standInImpressions(
  log: InteractionLog,
  session: ReplaySession,
  numItems: number,
  seed: number,
  index: number,
  perEngaged: number = REPLAY_DEFAULTS.standIns,
): ReplayEvent[] {
  const random = derivedRandom(seed, session.user, index);
  const engaged = new Set<number>();
  for (const r of session.rows) if (POSITIVE_CODES.has(log.action[r])) engaged.add(log.item[r]);
  if (engaged.size >= numItems) return [];
  const out: ReplayEvent[] = [];
  for (const r of session.rows) {
    if (!POSITIVE_CODES.has(log.action[r])) continue;
    for (let k = 0; k < perEngaged; k++) {
      let item = random.int(numItems);
      while (engaged.has(item)) item = random.int(numItems);
      out.push({ item, action: ACTION_CODE.impression, ts: log.ts[r], standIn: true });
    }
  }
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
