import type { Dataset, ItemCatalog } from '../../../core/dataset.ts';
import { ACTION_CODE, ACTIONS } from '../../../core/events.ts';
import { IdIndex } from '../../../core/ids.ts';
import { type InteractionLog, InteractionLogBuilder } from '../../../core/interactions.ts';
import { AliasSampler, Random } from '../../../core/random.ts';
import { makeTitle, topicName } from './vocabulary.ts';

/**
 * A seeded, deterministic, Pinterest-like interaction generator. Pure TypeScript (no Node or DOM imports),
 * so the same options give the same data set in Node and in the browser.
 *
 * The world it simulates:
 * - pins with a primary topic (uneven, Zipf-like topic sizes), ~10% with a second topic, a power-law
 *   popularity, a quality correlated with it, a small latent "taste" vector and a creation time (most exist
 *   at the start, the rest appear during the period and are never shown before they exist);
 * - boards of 10–200 pins, mostly of one topic, popular pins on many boards, every pin on at least one;
 * - users with 1–4 interests (Dirichlet weights) that drift over time (an interest is replaced, weights
 *   random-walk), a power-law activity level and a latent taste vector;
 * - sessions (minutes long, hours to days apart, diurnal) showing a feed: interest topics then popularity
 *   within the topic, pins from the boards the user saved to, and ~20% exploration by global popularity;
 * - actions per impression: click (interest, quality and taste), closeup and save mostly after a click,
 *   direct saves, hides mostly outside the user's interests; each a row a few seconds after its impression.
 */

export interface SyntheticOptions {
  users: number;
  items: number;
  /** Total rows in the log (impressions included); the output has exactly this many. */
  events: number;
  topics: number;
  boards: number;
  /** Length of the simulated period. */
  days: number;
  seed: number;
  /** Start of the period, milliseconds since the epoch. */
  startTime: number;
}

export const DEFAULT_SYNTHETIC_OPTIONS: SyntheticOptions = Object.freeze({
  users: 5000,
  items: 20000,
  events: 500_000,
  topics: 24,
  boards: 2000,
  days: 90,
  seed: 42,
  startTime: Date.UTC(2026, 0, 1),
});

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Board sizes (pins per board). */
export const BOARD_MIN_PINS = 10;
export const BOARD_MAX_PINS = 200;

/** The knobs of the simulation, in one place. Changing any of them changes every generated data set. */
const MODEL = {
  /** Topic sizes ∝ rank^-exponent × log-normal jitter. */
  topicZipf: 0.8,
  topicJitter: 0.25,
  secondTopicShare: 0.1,
  /** Pin popularity ~ Pareto(alpha); smaller alpha = heavier tail. */
  popularityAlpha: 1.3,
  /** Share of pins created during the period; the others exist at the start. */
  newPinShare: 0.2,
  /** Mean age at the start of the pins that already exist. */
  oldPinMeanAgeDays: 120,
  tasteDim: 8,
  tasteWeight: 0.6,
  /** Boards: share of a board's extra pins drawn from its own topic. */
  boardTopicPurity: 0.88,
  /** Board target size = min × exp(Exponential(mean)), clamped to [min, max]. */
  boardSizeLogMean: 0.6,
  /** Interest count 1..4 with these probabilities. */
  interestCounts: [0.25, 0.35, 0.25, 0.15],
  /** User activity ~ Pareto(alpha) on top of a floor of rows per user. */
  activityAlpha: 1.5,
  minRowsPerUser: 50,
  /** Share of users who join during the period (within its first 70%) rather than at the start. */
  lateJoinerShare: 0.15,
  /** Mean impressions per session (per-user log-normal spread). */
  sessionImpressions: 10,
  /** Expected rows per impression (impression + follow-ups); sizes the session plan. */
  rowsPerImpression: 1.23,
  /** Drift: mean days until an interest is replaced; daily s.d. of the log-weight random walk. */
  interestLifetimeDays: 150,
  interestWalkPerDay: 0.12,
  /** Feed sources. */
  exploreShare: 0.2,
  boardShare: 0.12,
  userBoardMemory: 12,
  /** Click logit = bias + interest bonus + affinity × weight + quality + taste (+ board bonus). */
  clickBias: -5.45,
  clickInInterest: 2.0,
  clickAffinity: 1.4,
  clickQuality: 0.7,
  clickFromBoard: 0.4,
  closeupBias: -0.7,
  saveAfterClickBias: -2.1,
  saveAfterCloseup: 0.9,
  directSaveOffset: -3.6,
  hideOutsideBias: -2.7,
  hideInsideRate: 0.0015,
} as const;

/** Hourly weights of session starts (UTC), a simple diurnal curve peaking in the evening. */
const DIURNAL = [
  0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.5, 0.7, 0.8, 0.8, 0.9, 1, 0.9, 0.8, 0.8, 0.9, 1, 1.2, 1.4, 1.5, 1.4,
  1, 0.6,
];

const KNOWN_OPTIONS = new Set(Object.keys(DEFAULT_SYNTHETIC_OPTIONS));

/** Fills in defaults and checks every option; throws a RangeError naming the offending option. */
export function resolveSyntheticOptions(options: Partial<SyntheticOptions> = {}): SyntheticOptions {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new RangeError(
        `synthetic option "${key}" is not known (expected one of ${[...KNOWN_OPTIONS].join(', ')})`,
      );
    }
  }
  const resolved: SyntheticOptions = { ...DEFAULT_SYNTHETIC_OPTIONS };
  for (const key of Object.keys(options) as (keyof SyntheticOptions)[]) {
    const value = options[key];
    if (value !== undefined) resolved[key] = value;
  }
  const positive: (keyof SyntheticOptions)[] = ['users', 'items', 'events', 'topics', 'boards', 'days'];
  for (const key of positive) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`synthetic option "${key}" must be a positive integer, got ${String(value)}`);
    }
  }
  if (!Number.isSafeInteger(resolved.seed)) {
    throw new RangeError(`synthetic option "seed" must be an integer, got ${String(resolved.seed)}`);
  }
  if (!Number.isSafeInteger(resolved.startTime) || resolved.startTime < 0) {
    throw new RangeError(
      `synthetic option "startTime" must be a non-negative integer of milliseconds, got ${String(resolved.startTime)}`,
    );
  }
  if (resolved.events > 2 ** 31 - 1) {
    throw new RangeError(`synthetic option "events" must be at most ${2 ** 31 - 1}, got ${resolved.events}`);
  }
  if (resolved.events < resolved.users) {
    throw new RangeError(
      `synthetic option "events" (${resolved.events}) must be >= "users" (${resolved.users}) so every user has an event`,
    );
  }
  if (resolved.items < resolved.topics) {
    throw new RangeError(
      `synthetic option "items" (${resolved.items}) must be >= "topics" (${resolved.topics}) so every topic has a pin`,
    );
  }
  if (resolved.boards * BOARD_MAX_PINS < resolved.items) {
    throw new RangeError(
      `synthetic option "boards" (${resolved.boards}) is too small: ${resolved.items} items need at least ` +
        `${Math.ceil(resolved.items / BOARD_MAX_PINS)} boards of at most ${BOARD_MAX_PINS} pins`,
    );
  }
  if (resolved.startTime + resolved.days * DAY > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`synthetic option "days" (${resolved.days}) runs past the largest safe timestamp`);
  }
  return resolved;
}

interface Pins {
  topic: Int32Array;
  /** Second topic, or -1. */
  second: Int32Array;
  popularity: Float64Array;
  /** Quality on a logit-like scale (mean ~0). */
  quality: Float64Array;
  createdAt: Float64Array;
  taste: Float64Array;
  /** Per topic: draws pins of the topic (primary, or secondary at half weight) by popularity. */
  topicSamplers: AliasSampler[];
  /** Per topic: members of the topic for its sampler, aligned with the sampler's indices. */
  topicMembers: Int32Array[];
  /** Per topic: its most popular pin, forced to exist at the start so every topic has a pin to show. */
  topicFallback: Int32Array;
  global: AliasSampler;
  globalFallback: number;
}

function makeTopicWeights(random: Random, topics: number): Float64Array {
  const rank = new Int32Array(topics);
  for (let t = 0; t < topics; t++) rank[t] = t;
  random.shuffle(rank);
  const weights = new Float64Array(topics);
  for (let t = 0; t < topics; t++) {
    weights[t] = (rank[t] + 1) ** -MODEL.topicZipf * Math.exp(MODEL.topicJitter * random.normal());
  }
  return weights;
}

function makePins(random: Random, options: SyntheticOptions, topicWeights: Float64Array): Pins {
  const { items, topics, startTime, days } = options;
  const topicSampler = new AliasSampler(topicWeights);
  const topic = new Int32Array(items);
  const second = new Int32Array(items).fill(-1);
  const count = new Int32Array(topics);
  for (let i = 0; i < items; i++) {
    topic[i] = topicSampler.sample(random);
    count[topic[i]]++;
  }
  // Every topic gets at least one pin: take one from the currently largest topic.
  for (let t = 0; t < topics; t++) {
    if (count[t] > 0) continue;
    let largest = 0;
    for (let s = 1; s < topics; s++) if (count[s] > count[largest]) largest = s;
    let i = random.int(items);
    while (topic[i] !== largest) i = (i + 1) % items;
    topic[i] = t;
    count[largest]--;
    count[t]++;
  }
  if (topics > 1) {
    for (let i = 0; i < items; i++) {
      if (random.next() >= MODEL.secondTopicShare) continue;
      let s = topicSampler.sample(random);
      for (let attempt = 0; s === topic[i] && attempt < 8; attempt++) s = topicSampler.sample(random);
      if (s === topic[i]) s = (topic[i] + 1 + random.int(topics - 1)) % topics;
      second[i] = s;
    }
  }

  const popularity = new Float64Array(items);
  const quality = new Float64Array(items);
  const alpha = MODEL.popularityAlpha;
  for (let i = 0; i < items; i++) {
    // Pareto by inversion: popularity = e^(E / alpha) with E ~ Exponential(1).
    const e = -Math.log(1 - random.next());
    popularity[i] = Math.exp(e / alpha);
    // Quality follows popularity up to the top ~5% (E capped at 3, whose mean is 1 - e^-3), plus noise; the
    // cap keeps the click rate from growing with the catalog size as ever more extreme pins appear.
    quality[i] = 0.5 * (Math.min(e, 3) - 0.95) + 0.85 * random.normal();
  }

  const createdAt = new Float64Array(items);
  const span = days * DAY;
  for (let i = 0; i < items; i++) {
    if (random.next() < MODEL.newPinShare) createdAt[i] = startTime + Math.floor(random.next() * span);
    else
      createdAt[i] = Math.max(0, startTime - Math.floor(random.exponential(MODEL.oldPinMeanAgeDays * DAY)));
  }

  const topicFallback = new Int32Array(topics).fill(-1);
  for (let i = 0; i < items; i++) {
    const t = topic[i];
    if (topicFallback[t] < 0 || popularity[i] > popularity[topicFallback[t]]) topicFallback[t] = i;
  }
  let globalFallback = 0;
  for (let t = 0; t < topics; t++) {
    const i = topicFallback[t];
    createdAt[i] = Math.min(createdAt[i], startTime);
    if (popularity[i] > popularity[globalFallback]) globalFallback = i;
  }
  createdAt[globalFallback] = Math.min(createdAt[globalFallback], startTime);

  const taste = new Float64Array(items * MODEL.tasteDim);
  const tasteScale = 1 / Math.sqrt(MODEL.tasteDim);
  for (let k = 0; k < taste.length; k++) taste[k] = random.normal() * tasteScale;

  const memberCount = new Int32Array(topics);
  for (let i = 0; i < items; i++) {
    memberCount[topic[i]]++;
    if (second[i] >= 0) memberCount[second[i]]++;
  }
  const topicMembers = Array.from({ length: topics }, (_, t) => new Int32Array(memberCount[t]));
  const memberWeights = Array.from({ length: topics }, (_, t) => new Float64Array(memberCount[t]));
  const fill = new Int32Array(topics);
  for (let i = 0; i < items; i++) {
    const t = topic[i];
    topicMembers[t][fill[t]] = i;
    memberWeights[t][fill[t]++] = popularity[i];
    const s = second[i];
    if (s >= 0) {
      topicMembers[s][fill[s]] = i;
      memberWeights[s][fill[s]++] = 0.5 * popularity[i];
    }
  }
  const topicSamplers = memberWeights.map((weights) => new AliasSampler(weights));

  return {
    topic,
    second,
    popularity,
    quality,
    createdAt,
    taste,
    topicSamplers,
    topicMembers,
    topicFallback,
    global: new AliasSampler(popularity),
    globalFallback,
  };
}

interface Boards {
  items: Int32Array[];
  /** CSR pin → boards. */
  offsets: Int32Array;
  boards: Int32Array;
}

function makeBoards(random: Random, options: SyntheticOptions, pins: Pins): Boards {
  const { items, topics, boards } = options;
  const minPins = Math.min(BOARD_MIN_PINS, items);
  const maxPins = Math.min(BOARD_MAX_PINS, items);

  const pinsByTopic: number[][] = Array.from({ length: topics }, () => []);
  for (let i = 0; i < items; i++) pinsByTopic[pins.topic[i]].push(i);

  // Boards per topic, proportional to the topic's pins (D'Hondt), at first enough to hold them all.
  const perTopic = new Int32Array(topics);
  let required = 0;
  for (let t = 0; t < topics; t++) required += Math.ceil(pinsByTopic[t].length / maxPins);
  let allotted = 0;
  if (required <= boards) {
    for (let t = 0; t < topics; t++) perTopic[t] = Math.ceil(pinsByTopic[t].length / maxPins);
    allotted = required;
  }
  for (; allotted < boards; allotted++) {
    let best = 0;
    for (let t = 1; t < topics; t++) {
      if (pinsByTopic[t].length / (perTopic[t] + 1) > pinsByTopic[best].length / (perTopic[best] + 1))
        best = t;
    }
    perTopic[best]++;
  }
  const boardTopic = new Int32Array(boards);
  for (let t = 0, b = 0; t < topics; t++) for (let k = 0; k < perTopic[t]; k++) boardTopic[b++] = t;
  random.shuffle(boardTopic);
  const boardsOfTopic: number[][] = Array.from({ length: topics }, () => []);
  for (let b = 0; b < boards; b++) boardsOfTopic[boardTopic[b]].push(b);

  const members: number[][] = Array.from({ length: boards }, () => []);
  // Coverage: deal each topic's pins round-robin over its boards; overflow goes to the emptiest board.
  const overflow: number[] = [];
  for (let t = 0; t < topics; t++) {
    const list = Int32Array.from(pinsByTopic[t]);
    random.shuffle(list);
    const own = boardsOfTopic[t];
    let cursor = 0;
    for (const pin of list) {
      let placed = false;
      for (let tries = 0; tries < own.length && !placed; tries++) {
        const b = own[cursor];
        cursor = (cursor + 1) % own.length;
        if (members[b].length < maxPins) {
          members[b].push(pin);
          placed = true;
        }
      }
      if (!placed) overflow.push(pin);
    }
  }
  for (const pin of overflow) {
    let emptiest = 0;
    for (let b = 1; b < boards; b++) if (members[b].length < members[emptiest].length) emptiest = b;
    members[emptiest].push(pin);
  }

  // Top up to each board's target size: mostly popular pins of its topic, some from anywhere.
  const stamp = new Int32Array(items).fill(-1);
  const result: Int32Array[] = new Array(boards);
  for (let b = 0; b < boards; b++) {
    const list = members[b];
    for (const pin of list) stamp[pin] = b;
    const target = Math.max(
      list.length,
      Math.min(maxPins, Math.round(minPins * Math.exp(random.exponential(MODEL.boardSizeLogMean)))),
    );
    const t = boardTopic[b];
    const sampler = pins.topicSamplers[t];
    const topicMembers = pins.topicMembers[t];
    for (let attempts = 0; list.length < target && attempts < 4 * target + 20; attempts++) {
      const pin =
        random.next() < MODEL.boardTopicPurity
          ? topicMembers[sampler.sample(random)]
          : pins.global.sample(random);
      if (stamp[pin] === b) continue;
      stamp[pin] = b;
      list.push(pin);
    }
    // Tiny catalogs: fill up to the minimum with any pins not yet on the board.
    for (let pin = random.int(items); list.length < minPins; pin = (pin + 1) % items) {
      if (stamp[pin] === b) continue;
      stamp[pin] = b;
      list.push(pin);
    }
    result[b] = Int32Array.from(list).sort();
  }

  const offsets = new Int32Array(items + 1);
  for (const list of result) for (const pin of list) offsets[pin + 1]++;
  for (let i = 0; i < items; i++) offsets[i + 1] += offsets[i];
  const cursor = offsets.slice(0, items);
  const byPin = new Int32Array(offsets[items]);
  for (let b = 0; b < boards; b++) for (const pin of result[b]) byPin[cursor[pin]++] = b;
  return { items: result, offsets, boards: byPin };
}

/** Rows per user: a floor for everyone plus a power-law share of the rest, summing to `events` exactly. */
function makeBudgets(random: Random, users: number, events: number): Int32Array {
  const floor = Math.min(MODEL.minRowsPerUser, Math.floor(events / users));
  const rest = events - floor * users;
  const activity = new Float64Array(users);
  let total = 0;
  for (let u = 0; u < users; u++) {
    activity[u] = (1 - random.next()) ** (-1 / MODEL.activityAlpha);
    total += activity[u];
  }
  const budgets = new Int32Array(users);
  let cumulative = 0;
  let given = 0;
  for (let u = 0; u < users; u++) {
    cumulative += activity[u];
    const upTo = u === users - 1 ? rest : Math.round((cumulative / total) * rest);
    budgets[u] = floor + upTo - given;
    given = upTo;
  }
  return budgets;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Everything shared by the per-user simulations. */
interface World {
  options: SyntheticOptions;
  pins: Pins;
  boards: Boards;
  topicSampler: AliasSampler;
  hourSampler: AliasSampler;
  builder: InteractionLogBuilder;
  /** Per pin: the session that last showed it (feeds do not repeat a pin within a session). */
  seenInSession: Int32Array;
  sessionCounter: number;
}

const MAX_INTERESTS = 4;

/** Simulates one user and appends their rows (in time order) to the builder. */
function simulateUser(world: World, random: Random, u: number, budget: number): void {
  const { options, pins, boards, builder, seenInSession } = world;
  const { topics, startTime, days } = options;
  const endTime = startTime + days * DAY;
  const tasteDim = MODEL.tasteDim;

  // Interests: 1–4 distinct topics, drawn by topic size, with Dirichlet(1) weights.
  let interestCount = 1;
  for (let r = random.next(), k = 0; k < MODEL.interestCounts.length - 1; k++) {
    r -= MODEL.interestCounts[k];
    if (r < 0) break;
    interestCount++;
  }
  interestCount = Math.min(interestCount, topics);
  const interest = new Int32Array(MAX_INTERESTS).fill(-1);
  const weight = new Float64Array(MAX_INTERESTS);
  /** Current weight of each topic for this user (0 outside the interests). */
  const affinity = new Float64Array(topics);
  const drawNewTopic = (): number => {
    for (let attempt = 0; attempt < 32; attempt++) {
      const t = world.topicSampler.sample(random);
      if (affinity[t] === 0 && !interest.includes(t)) return t;
    }
    for (let t = random.int(topics), n = 0; n < topics; t = (t + 1) % topics, n++) {
      if (!interest.includes(t)) return t;
    }
    return -1;
  };
  for (let k = 0; k < interestCount; k++) {
    interest[k] = drawNewTopic();
    weight[k] = random.gamma(1);
  }
  const refreshAffinity = (): void => {
    let sum = 0;
    for (let k = 0; k < interestCount; k++) sum += weight[k];
    affinity.fill(0);
    for (let k = 0; k < interestCount; k++) {
      weight[k] = Math.max(weight[k] / sum, 0.01);
      affinity[interest[k]] = weight[k];
    }
  };
  refreshAffinity();

  const taste = new Float64Array(tasteDim);
  for (let d = 0; d < tasteDim; d++) taste[d] = random.normal();

  // Session plan: count from the budget, start times spread over the user's active days, diurnal.
  const joinDay = random.next() < MODEL.lateJoinerShare ? Math.floor(random.next() * 0.7 * days) : 0;
  const activeDays = days - joinDay;
  const sessionLength = MODEL.sessionImpressions * Math.exp(0.4 * random.normal());
  const maxSessions = Math.max(1, Math.floor((activeDays * 24) / 2));
  const sessions = Math.min(
    maxSessions,
    Math.max(1, Math.round(budget / (MODEL.rowsPerImpression * sessionLength))),
  );
  const starts = new Float64Array(sessions);
  for (let s = 0; s < sessions; s++) {
    const day = joinDay + random.int(activeDays);
    const hour = world.hourSampler.sample(random);
    starts[s] = startTime + day * DAY + hour * HOUR + Math.floor(random.next() * HOUR);
  }
  starts.sort();

  const engaged = new Set<number>();
  const userBoards: number[] = [];
  let remaining = budget;
  let clock = startTime;
  let lastSession = Number.NaN;

  const push = (item: number, action: number, ts: number): void => {
    builder.push(u, item, action, Math.min(ts, endTime - 1));
    remaining--;
  };
  const affinityOf = (pin: number): number => {
    const s = pins.second[pin];
    return affinity[pins.topic[pin]] + (s >= 0 ? 0.5 * affinity[s] : 0);
  };

  for (let s = 0; s < sessions && remaining > 0; s++) {
    const sessionStart = Math.max(starts[s], clock + 2 * MINUTE);
    // Drift between sessions, proportional to the time since the last one.
    if (!Number.isNaN(lastSession)) {
      const gapDays = (sessionStart - lastSession) / DAY;
      const replace = 1 - Math.exp(-gapDays / MODEL.interestLifetimeDays);
      const walk = MODEL.interestWalkPerDay * Math.sqrt(gapDays);
      for (let k = 0; k < interestCount; k++) {
        if (random.next() < replace) {
          const t = drawNewTopic();
          if (t >= 0) {
            affinity[interest[k]] = 0;
            interest[k] = t;
            weight[k] = Math.max(weight[k], 1 / interestCount);
          }
        }
        weight[k] *= Math.exp(walk * random.normal());
      }
      refreshAffinity();
    }
    lastSession = sessionStart;
    const session = ++world.sessionCounter;
    clock = sessionStart;

    const isLast = s === sessions - 1;
    const planned = isLast
      ? Number.POSITIVE_INFINITY
      : Math.max(
          1,
          Math.round((remaining / (sessions - s) / MODEL.rowsPerImpression) * (0.4 + 1.2 * random.next())),
        );

    for (let shown = 0; shown < planned && remaining > 0; shown++) {
      // Pick a pin: exploration, the user's boards, or an interest topic then popularity within it. The
      // source is fixed first, so the mix holds even when a small catalog runs out of fresh pins.
      const r = random.next();
      const source =
        r < MODEL.exploreShare
          ? 0
          : userBoards.length > 0 && r < MODEL.exploreShare + MODEL.boardShare
            ? 1
            : 2;
      let topic = -1;
      let members: Int32Array | undefined;
      if (source === 1) {
        members = boards.items[userBoards[random.int(userBoards.length)]];
      } else if (source === 2) {
        let x = random.next();
        topic = interest[interestCount - 1];
        for (let k = 0; k < interestCount; k++) {
          x -= weight[k];
          if (x < 0) {
            topic = interest[k];
            break;
          }
        }
      }
      let pin = -1;
      let fallback = -1;
      for (let attempt = 0; attempt < 8 && pin < 0; attempt++) {
        const candidate =
          source === 0
            ? pins.global.sample(random)
            : members !== undefined
              ? members[random.int(members.length)]
              : pins.topicMembers[topic][pins.topicSamplers[topic].sample(random)];
        if (pins.createdAt[candidate] > clock) continue;
        if (fallback < 0) fallback = candidate;
        if (seenInSession[candidate] === session || engaged.has(candidate)) continue;
        pin = candidate;
      }
      const fromBoard = source === 1;
      if (pin < 0) pin = fallback >= 0 ? fallback : pins.globalFallback;
      seenInSession[pin] = session;
      push(pin, ACTION_CODE.impression, clock);

      const aff = affinityOf(pin);
      let dot = 0;
      const base = pin * tasteDim;
      for (let d = 0; d < tasteDim; d++) dot += taste[d] * pins.taste[base + d];
      const quality = pins.quality[pin];
      const logit =
        MODEL.clickBias +
        (aff > 0 ? MODEL.clickInInterest : 0) +
        MODEL.clickAffinity * aff +
        MODEL.clickQuality * quality +
        MODEL.tasteWeight * dot +
        (fromBoard ? MODEL.clickFromBoard : 0);

      let t = clock;
      let saved = false;
      if (random.next() < sigmoid(logit)) {
        t += 1500 + Math.round(random.exponential(2500));
        if (remaining > 0) push(pin, ACTION_CODE.click, t);
        engaged.add(pin);
        let closeup = false;
        if (random.next() < sigmoid(MODEL.closeupBias + 0.5 * quality + 0.8 * aff)) {
          t += 800 + Math.round(random.exponential(2500));
          if (remaining > 0) push(pin, ACTION_CODE.closeup, t);
          closeup = true;
          t += Math.round(random.exponential(8000));
        }
        const saveLogit =
          MODEL.saveAfterClickBias + 0.5 * quality + 1.2 * aff + (closeup ? MODEL.saveAfterCloseup : 0);
        if (random.next() < sigmoid(saveLogit)) {
          t += 2000 + Math.round(random.exponential(5000));
          if (remaining > 0) push(pin, ACTION_CODE.save, t);
          saved = true;
        }
      } else if (random.next() < sigmoid(logit + MODEL.directSaveOffset)) {
        t += 1500 + Math.round(random.exponential(3000));
        if (remaining > 0) push(pin, ACTION_CODE.save, t);
        engaged.add(pin);
        saved = true;
      } else {
        const hide =
          aff > 0
            ? MODEL.hideInsideRate
            : sigmoid(MODEL.hideOutsideBias - 0.4 * quality - MODEL.tasteWeight * dot);
        if (random.next() < hide) {
          t += 1000 + Math.round(random.exponential(2000));
          if (remaining > 0) push(pin, ACTION_CODE.hide, t);
          engaged.add(pin);
        }
      }
      if (saved) {
        // The save lands on one of the pin's boards, which then feeds the user's home feed.
        const from = boards.offsets[pin];
        const count = boards.offsets[pin + 1] - from;
        if (count > 0) {
          const board = boards.boards[from + random.int(count)];
          if (!userBoards.includes(board)) {
            if (userBoards.length >= MODEL.userBoardMemory) userBoards.shift();
            userBoards.push(board);
          }
        }
      }
      clock = t + 800 + Math.round(random.exponential(3500));
    }
  }
}

/** Sorts the log's rows by timestamp (ties keep generation order). */
function sortByTime(log: InteractionLog): InteractionLog {
  const n = log.length;
  const order = new Int32Array(n);
  for (let r = 0; r < n; r++) order[r] = r;
  const ts = log.ts;
  order.sort((a, b) => ts[a] - ts[b] || a - b);
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const action = new Uint8Array(n);
  const sorted = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const from = order[r];
    user[r] = log.user[from];
    item[r] = log.item[from];
    action[r] = log.action[from];
    sorted[r] = ts[from];
  }
  return { length: n, user, item, action, ts: sorted };
}

/** The hidden state behind a generated data set, by item index: for tests and for researchers' analyses. */
export interface SyntheticTruth {
  options: SyntheticOptions;
  topicNames: string[];
  /** Primary topic index of each pin (into topicNames). */
  pinTopic: Int32Array;
  /** Second topic index of each pin, or -1. */
  pinSecondTopic: Int32Array;
  /** Power-law popularity weight (>= 1) that drives exposure. */
  pinPopularity: Float64Array;
  /** Quality on a logit-like scale; raises click, closeup and save odds. */
  pinQuality: Float64Array;
  /** When each pin appeared (ms); it is never shown before. */
  pinCreatedAt: Float64Array;
}

/**
 * Generates the synthetic data set: users `u1..uN`, pins `p1..pM` (index i ↔ `p${i + 1}`), exactly
 * `events` rows sorted by time, and a catalog with titles, topics and boards. Deterministic in its options.
 */
export function generateSynthetic(
  options: Partial<SyntheticOptions> = {},
  onProgress?: (done: number, total: number) => void,
): Dataset {
  return generateSyntheticWithTruth(options, onProgress).dataset;
}

/** generateSynthetic, also returning the pins' hidden attributes (creation time, popularity, quality). */
export function generateSyntheticWithTruth(
  options: Partial<SyntheticOptions> = {},
  onProgress?: (done: number, total: number) => void,
): { dataset: Dataset; truth: SyntheticTruth } {
  const resolved = resolveSyntheticOptions(options);
  const { users, items, events, topics, boards, seed } = resolved;
  const master = new Random(seed);
  const topicRandom = master.fork();
  const pinRandom = master.fork();
  const titleRandom = master.fork();
  const boardRandom = master.fork();
  const budgetRandom = master.fork();
  const userRandom = master.fork();

  const topicWeights = makeTopicWeights(topicRandom, topics);
  const pins = makePins(pinRandom, resolved, topicWeights);
  const boardTable = makeBoards(boardRandom, resolved, pins);
  const budgets = makeBudgets(budgetRandom, users, events);

  const world: World = {
    options: resolved,
    pins,
    boards: boardTable,
    topicSampler: new AliasSampler(topicWeights),
    hourSampler: new AliasSampler(DIURNAL),
    builder: new InteractionLogBuilder(events),
    seenInSession: new Int32Array(items),
    sessionCounter: 0,
  };
  const step = Math.max(1, Math.ceil(events / 20));
  let nextReport = step;
  for (let u = 0; u < users; u++) {
    simulateUser(world, userRandom.fork(), u, budgets[u]);
    const done = world.builder.length;
    if (done >= nextReport && done < events) {
      onProgress?.(done, events);
      nextReport = (Math.floor(done / step) + 1) * step;
    }
  }
  const generated = world.builder.length;
  if (generated !== events) throw new Error(`synthetic generator made ${generated} rows, expected ${events}`);
  const log = sortByTime(world.builder.build());
  onProgress?.(events, events);

  const userIndex = new IdIndex();
  for (let u = 0; u < users; u++) userIndex.intern(`u${u + 1}`);
  const itemIndex = new IdIndex();
  for (let i = 0; i < items; i++) itemIndex.intern(`p${i + 1}`);

  const names = Array.from({ length: topics }, (_, t) => topicName(t));
  const catalog: ItemCatalog = {
    titles: Array.from({ length: items }, (_, i) => makeTitle(titleRandom, pins.topic[i])),
    topics: Array.from({ length: items }, (_, i) =>
      pins.second[i] >= 0 ? [names[pins.topic[i]], names[pins.second[i]]] : [names[pins.topic[i]]],
    ),
    boards: { ids: Array.from({ length: boards }, (_, b) => `b${b + 1}`), items: boardTable.items },
  };
  const dataset: Dataset = {
    name: 'synthetic',
    format: 'events',
    users: userIndex,
    items: itemIndex,
    log,
    hasTimestamps: true,
    catalog,
  };
  const truth: SyntheticTruth = {
    options: resolved,
    topicNames: names,
    pinTopic: pins.topic,
    pinSecondTopic: pins.second,
    pinPopularity: pins.popularity,
    pinQuality: pins.quality,
    pinCreatedAt: pins.createdAt,
  };
  return { dataset, truth };
}

export interface SyntheticSummary {
  rows: number;
  users: number;
  items: number;
  boards: number;
  /** Rows per action name. */
  actions: Record<(typeof ACTIONS)[number], number>;
  /** Share of rows per action name. */
  shares: Record<(typeof ACTIONS)[number], number>;
  /** Distinct items with at least one row. */
  itemsSeen: number;
  firstTs: number;
  lastTs: number;
}

/** Counts that describe a generated (or any event-format) data set, for logs and reports. */
export function summarizeSynthetic(dataset: Dataset): SyntheticSummary {
  const { log } = dataset;
  const counts = new Array<number>(ACTIONS.length).fill(0);
  const seen = new Uint8Array(dataset.items.size);
  let firstTs = Number.POSITIVE_INFINITY;
  let lastTs = Number.NEGATIVE_INFINITY;
  for (let r = 0; r < log.length; r++) {
    counts[log.action[r]]++;
    seen[log.item[r]] = 1;
    if (log.ts[r] < firstTs) firstTs = log.ts[r];
    if (log.ts[r] > lastTs) lastTs = log.ts[r];
  }
  const actions = {} as Record<(typeof ACTIONS)[number], number>;
  const shares = {} as Record<(typeof ACTIONS)[number], number>;
  ACTIONS.forEach((name, code) => {
    actions[name] = counts[code];
    shares[name] = log.length === 0 ? 0 : counts[code] / log.length;
  });
  let itemsSeen = 0;
  for (let i = 0; i < seen.length; i++) itemsSeen += seen[i];
  return {
    rows: log.length,
    users: dataset.users.size,
    items: dataset.items.size,
    boards: dataset.catalog?.boards?.ids.length ?? 0,
    actions,
    shares,
    itemsSeen,
    firstTs,
    lastTs,
  };
}
