import { BUILT_IN_VARIANTS } from './variants.ts';

/** The on-device learning variants, with the engine's learning defaults (src/core/learning). */
export const LEARNED_VARIANTS = ['learned', 'learned+multi'] as const;
export type LearnedVariantName = (typeof LEARNED_VARIANTS)[number];

/** Every variant a name alone picks (the lab's replay tab offers these): the built-in ones, then learning. */
export const NAMED_VARIANTS = [...BUILT_IN_VARIANTS, ...LEARNED_VARIANTS] as const;
export type NamedVariant = (typeof NAMED_VARIANTS)[number];

export const isNamedVariant = (name: string): name is NamedVariant =>
  (NAMED_VARIANTS as readonly string[]).includes(name);

export const isLearnedVariant = (name: string): name is LearnedVariantName =>
  (LEARNED_VARIANTS as readonly string[]).includes(name);
