import type { Tf } from '../learning/index.ts';
import { learnedVariant } from './learned.ts';
import { isLearnedVariant, type NamedVariant } from './variant-names.ts';
import { type BuiltInVariant, builtInVariant, type ReplayVariant } from './variants.ts';

/**
 * A variant by name: the built-in ones, or on-device learning with `loadTf`'s tfjs (its backend is the
 * caller's: Node's `edgerec replay` runs wasm, the lab worker wasm else cpu). `learned+multi` also
 * retrieves for PinnerSage interests, with their defaults.
 */
export function namedVariant(name: NamedVariant, loadTf: () => Promise<Tf>): ReplayVariant {
  if (!isLearnedVariant(name)) return builtInVariant(name as BuiltInVariant);
  return learnedVariant(loadTf, name === 'learned+multi' ? { multi: {} } : {}, name);
}
