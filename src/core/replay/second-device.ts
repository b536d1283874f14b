import { type CombineRule, combineEmbeddings } from '../combine/index.ts';
import { ACTION_CODE } from '../events.ts';
import type { FeedAction, FeedRequest } from '../feed/index.ts';
import { NON_IMPRESSION_CODES } from '../interactions.ts';
import type { InterestOptions } from '../interests/index.ts';
import {
  bundleLearningChoice,
  type LearningChoice,
  type LearningOptions,
  learnFromEvents,
  type Tf,
} from '../learning/index.ts';
import { REPLAY_DEFAULTS } from './replay.ts';
import type { ReplayEvent, ReplayVariant } from './variants.ts';

export interface SecondDeviceOptions {
  /**
   * The bundle's learning choice (`bundleLearningChoice(manifest.learning)`), on both devices, as the
   * engine follows it; default: the built-in one. When it chose not to learn and `learning` sets nothing,
   * neither device learns: the served embedding is the server's and the query blends it as the engine's
   * long-term one (the request's weight).
   */
  choice?: LearningChoice;
  /** The learners' settings over the choice's, on both devices. */
  learning?: Partial<LearningOptions>;
  /** PinnerSage interests of the second device's own engagements (the engine's default: on, these overrides). */
  multi?: Partial<InterestOptions> | false;
}

/**
 * A second device of the user, starting at the window's start from what the server serves it. By then
 * the first device has learnt its embedding from the user's whole history (prior: the server's long-term
 * embedding, as the `learned` variant does) and synced it; the server holds its own long-term embedding as
 * of the window's start, and serves the two combined by `rule`. The second device holds no event from
 * before the window: the served embedding is its query (as the engine's adopted `learned` embedding, at
 * the choice's weight) and where its own learning starts, and the encoder, the filters and the
 * ranker's counts see only the sessions it observed itself. So the rows compare what each rule gives a
 * device that knows nothing but the served embedding, and how well its own learning builds on it.
 */
export function secondDeviceVariant(
  loadTf: () => Promise<Tf>,
  rule: CombineRule,
  options: SecondDeviceOptions = {},
  name = 'second',
): ReplayVariant {
  const choice = options.choice ?? bundleLearningChoice(undefined);
  const learning: LearningOptions = { ...choice.options, ...options.learning };
  const learns = choice.learn || Object.keys(options.learning ?? {}).length > 0;
  const multi = options.multi === false ? undefined : (options.multi ?? {});
  return {
    name,
    async start(user) {
      const tf = await loadTf();
      const first = learns
        ? await learnFromEvents(tf, user.table, user.history, user.longTerm, learning)
        : undefined;
      const lastEvent = user.history.at(-1)?.ts ?? Number.NEGATIVE_INFINITY;
      const served = combineEmbeddings(
        rule,
        user.longTerm && { vector: user.longTerm, updatedAt: user.from },
        first && { vector: first.vector, updatedAt: lastEvent },
      );
      const own: ReplayEvent[] = [];
      let learned: Float32Array | undefined;
      let stale = false;
      return {
        async request(base) {
          if (stale && learns) {
            learned = (await learnFromEvents(tf, user.table, own, served, learning))?.vector ?? learned;
            stale = false;
          }
          const query = learned ?? served;
          const { longTerm: _serverOnly, ...rest } = base;
          const request: FeedRequest = {
            ...rest,
            ...ownState(own),
            interests: multi ? 'multi' : 'single',
            ...(multi ? { interestOptions: multi } : {}),
          };
          if (!query) return request;
          // Not learning, the engine blends the server's embedding as its long-term one (the base weight).
          return {
            ...request,
            longTerm: query,
            longTermWeight: learns ? choice.weight : base.longTermWeight,
          };
        },
        observe(session) {
          // Kept whole (a window's sessions): its hides and counts are all the device's state.
          own.push(...session);
          stale = true;
        },
      };
    },
  };
}

/** The engine's view of a device's own log: its newest actions, hidden pins and action counts. */
function ownState(events: readonly ReplayEvent[]): Pick<FeedRequest, 'actions' | 'hidden' | 'counts'> {
  const hidden = new Set<number>();
  const counts = { click: 0, closeup: 0, save: 0, hide: 0 };
  const actions: FeedAction[] = [];
  const from = Math.max(0, events.length - REPLAY_DEFAULTS.deviceEvents);
  for (let i = 0; i < events.length; i++) {
    const { item, action, ts } = events[i];
    if (action === ACTION_CODE.click) counts.click++;
    else if (action === ACTION_CODE.closeup) counts.closeup++;
    else if (action === ACTION_CODE.save) counts.save++;
    else if (action === ACTION_CODE.hide) {
      counts.hide++;
      hidden.add(item);
    }
    if (i >= from && NON_IMPRESSION_CODES.has(action)) actions.push({ item, action, ts });
  }
  return { actions, hidden, counts };
}
