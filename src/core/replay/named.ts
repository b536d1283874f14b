import type { Tf } from '../learning/index.ts';
import { learnedVariant } from './learned.ts';
import { BUILT_IN_VARIANTS, type BuiltInVariant, builtInVariant, type ReplayVariant } from './variants.ts';

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

/**
 * A variant by name: the built-in ones, or on-device learning with `loadTf`'s tfjs (its backend is the
 * caller's: Node's `edgerec replay` runs wasm, the lab worker wasm else cpu). `learned+multi` also
 * retrieves for PinnerSage interests, with their defaults.
 */
export function namedVariant(name: NamedVariant, loadTf: () => Promise<Tf>): ReplayVariant {
  if (!isLearnedVariant(name)) return builtInVariant(name as BuiltInVariant);
  return learnedVariant(loadTf, name === 'learned+multi' ? { multi: {} } : {}, name);
}
