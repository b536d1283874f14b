import type { InterestOptions } from '../interests/index.ts';
import {
  bundleLearningChoice,
  type LearningChoice,
  type LearningOptions,
  learnFromEvents,
  type Tf,
} from '../learning/index.ts';
import type { ReplayEvent, ReplayVariant } from './variants.ts';

export interface LearnedVariantOptions {
  /**
   * The bundle's learning choice (`bundleLearningChoice(manifest.learning)`), what the settings below
   * override; default: the built-in one. When it chose not to learn and nothing below is set, the device
   * does not learn (the request is the blend, or multi-interest with `multi`), as the engine does.
   */
  choice?: LearningChoice;
  /** The learner's settings (defaults: the choice's). */
  learning?: Partial<LearningOptions>;
  /** Long-term weight of the request: the learned embedding against the encoder's (the choice's). */
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
  const choice = options.choice ?? bundleLearningChoice(undefined);
  const learning: LearningOptions = { ...choice.options, ...options.learning };
  const weight = options.weight ?? choice.weight;
  const explicit = Object.keys(options.learning ?? {}).length > 0 || options.weight !== undefined;
  const learns = choice.learn || explicit;
  return {
    name,
    async start(user) {
      const tf = await loadTf();
      const events: ReplayEvent[] = [...user.history];
      let learned: Float32Array | undefined;
      let stale = true;
      return {
        async request(base) {
          if (stale && learns) {
            const run = await learnFromEvents(tf, user.table, events, user.longTerm, learning);
            learned = run?.vector;
            stale = false;
          }
          const shaped = {
            ...base,
            interests: options.multi ? ('multi' as const) : ('single' as const),
            ...(options.multi ? { interestOptions: options.multi } : {}),
          };
          return learned ? { ...shaped, longTerm: learned, longTermWeight: weight } : shaped;
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
