import { InputError } from '../../core/errors.ts';
import type { InterestOptions } from '../../core/interests/index.ts';
import { blendVariant, multiVariant, type ReplayVariant, serverVariant } from '../../core/replay/index.ts';

const INTEREST_KEYS: Record<string, keyof InterestOptions> = {
  threshold: 'threshold',
  clusters: 'maxClusters',
  pins: 'maxPins',
  halflife: 'halfLifeDays',
  interests: 'maxInterests',
  share: 'singleShare',
};

/**
 * A variant from its name: `server`, `blend`, `blend:weight=X`, `multi`, or `multi:key=value:…` with keys threshold,
 * clusters, pins, halflife (days), interests, share — so one run can sweep PinnerSage's settings.
 */
export function parseVariant(spec: string): ReplayVariant {
  if (spec === 'server') return serverVariant;
  if (spec === 'blend') return blendVariant;
  const [name, ...settings] = spec.split(':');
  if (name === 'blend') return blendWeight(spec, settings);
  if (name !== 'multi')
    throw new InputError(
      `--variant: unknown variant "${spec}" (server, blend, multi, multi:threshold=1.5:…)`,
    );
  const options: Partial<InterestOptions> = {};
  for (const setting of settings) {
    const [key, value] = setting.split('=');
    const field = INTEREST_KEYS[key];
    const number = Number(value);
    if (!field)
      throw new InputError(
        `--variant ${spec}: unknown setting "${key}" (${Object.keys(INTEREST_KEYS).join(', ')})`,
      );
    if (value === undefined || value === '' || !(number >= 0))
      throw new InputError(`--variant ${spec}: ${key} must be a number ≥ 0, got "${value ?? ''}"`);
    if (field === 'singleShare' && number > 1)
      throw new InputError(`--variant ${spec}: share must be in [0, 1]`);
    options[field] = number;
  }
  return multiVariant(options, spec);
}

/** `blend:weight=X`: today's blend with another long-term weight (0 = the encoder's embedding alone). */
function blendWeight(spec: string, settings: string[]): ReplayVariant {
  const [key, value] = (settings[0] ?? '').split('=');
  const weight = Number(value);
  if (settings.length !== 1 || key !== 'weight' || value === '' || !(weight >= 0 && weight <= 1))
    throw new InputError(`--variant ${spec}: blend takes one setting, weight=X with X in [0, 1]`);
  return {
    name: spec,
    start: async (user) => {
      const device = await blendVariant.start(user);
      return { request: async (base) => ({ ...(await device.request(base)), longTermWeight: weight }) };
    },
  };
}
