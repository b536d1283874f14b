import { ACTION_CODE } from '../events.ts';
import type { FeedAction, FeedModel, FeedReason } from './types.ts';

const VERBS: Record<number, string> = {
  [ACTION_CODE.click]: 'clicked',
  [ACTION_CODE.closeup]: 'looked at',
  [ACTION_CODE.save]: 'saved',
};

/** What the reasons of one slate share: the newest actions, their rows and topics. */
export interface ReasonContext {
  recent: readonly FeedAction[];
  recentRows: Float32Array;
  recentTopics: Set<string>;
}

/**
 * Why a pin is in the feed: the recent action it is closest to, else an interest (topic) of the recent
 * actions, else popularity.
 */
export function reasonFor(
  model: FeedModel,
  row: Float32Array,
  item: number,
  context: ReasonContext,
): FeedReason {
  const { catalog } = model;
  const dim = model.table.dim;
  const { recent, recentRows } = context;
  let best = -1;
  let bestSim = 0.5;
  for (let r = 0; r < recent.length; r++) {
    let dot = 0;
    let a = 0;
    let b = 0;
    for (let d = 0; d < dim; d++) {
      dot += row[d] * recentRows[r * dim + d];
      a += row[d] * row[d];
      b += recentRows[r * dim + d] ** 2;
    }
    const sim = dot / Math.sqrt(a * b || 1);
    // Item embeddings share a common direction, so closeness alone explains little: a moderately close
    // recent pin counts only when it shares a topic with this one.
    const recentItem = recent[r].item;
    const sharesTopic = catalog.topics[item].some((t) => catalog.topics[recentItem].includes(t));
    if (sim > bestSim && (sharesTopic || sim > 0.8)) {
      bestSim = sim;
      best = r;
    }
  }
  if (best >= 0) {
    const e = recent[best];
    return {
      kind: 'recent',
      item: e.item,
      text: `Because you ${VERBS[e.action] ?? 'viewed'} “${catalog.titles[e.item]}”`,
    };
  }
  const topic = catalog.topics[item].find((t) => context.recentTopics.has(t));
  if (topic) return { kind: 'interest', text: `More ${topic}, which you have been exploring` };
  return { kind: 'popular', text: 'Popular with people right now' };
}

/** The reason of a pin one of the user's PinnerSage interests retrieved: names the interest's medoid. */
export function interestReason(model: FeedModel, medoid: number): FeedReason {
  const title = model.catalog.titles[medoid];
  const topic = model.catalog.topics[medoid][0];
  return {
    kind: 'interest',
    item: medoid,
    text: topic
      ? `From your interest in ${topic}, like “${title}”`
      : `From your interest in pins like “${title}”`,
  };
}
