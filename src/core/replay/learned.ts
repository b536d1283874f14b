import type { InterestOptions } from '../interests/index.ts';
import {
  DEFAULT_LEARNED_WEIGHT,
  DEFAULT_LEARNING_OPTIONS,
  type LearningOptions,
  learnFromEvents,
  type Tf,
} from '../learning/index.ts';
import type { ReplayEvent, ReplayVariant } from './variants.ts';

export interface LearnedVariantOptions {
  /** The learner's settings (defaults: DEFAULT_LEARNING_OPTIONS). */
  learning?: Partial<LearningOptions>;
  /** Long-term weight of the request: the learned embedding against the encoder's (DEFAULT_LEARNED_WEIGHT). */
  weight?: number;
  /** Also retrieve for PinnerSage interests (`learned+multi`), with these overrides. */
  multi?: Partial<InterestOptions>;
}

/**
 * On-device learning: the device holds the user's events (history, then each session it observes) and,
 * before a request that follows new events, learns its embedding from the prior — the server's long-term
 * embedding as of the window's start — over them (src/core/learning). The learned embedding takes the
 * long-term embedding's place in the request: the ranker's `user_long`, blended with the encoder's
 * real-time embedding for retrieval. No positive yet: the request is today's blend.
 */
export function learnedVariant(
  loadTf: () => Promise<Tf>,
  options: LearnedVariantOptions = {},
  name = options.multi ? 'learned+multi' : 'learned',
): ReplayVariant {
  const learning: LearningOptions = { ...DEFAULT_LEARNING_OPTIONS, ...options.learning };
  return {
    name,
    async start(user) {
      const tf = await loadTf();
      const events: ReplayEvent[] = [...user.history];
      let learned: Float32Array | undefined;
      let stale = true;
      return {
        async request(base) {
          if (stale) {
            const run = await learnFromEvents(tf, user.table, events, user.longTerm, learning);
            learned = run?.vector;
            stale = false;
          }
          const shaped = {
            ...base,
            interests: options.multi ? ('multi' as const) : ('single' as const),
            ...(options.multi ? { interestOptions: options.multi } : {}),
          };
          return learned
            ? { ...shaped, longTerm: learned, longTermWeight: options.weight ?? DEFAULT_LEARNED_WEIGHT }
            : shaped;
        },
        observe(session) {
          events.push(...session);
          // Only the newest maxEvents are read: keep the list from growing with the window.
          if (events.length > 2 * learning.maxEvents) events.splice(0, events.length - learning.maxEvents);
          stale = true;
        },
      };
    },
  };
}
