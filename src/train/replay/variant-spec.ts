import { combineRuleName, DEFAULT_COMBINE_RULE, parseCombineRule } from '../../core/combine/index.ts';
import { InputError } from '../../core/errors.ts';
import type { InterestOptions } from '../../core/interests/index.ts';
import type { LearningChoice, LearningOptions } from '../../core/learning/index.ts';
import {
  blendVariant,
  learnedVariant,
  multiVariant,
  type ReplayVariant,
  secondDeviceVariant,
  serverVariant,
} from '../../core/replay/index.ts';
import { initTraining } from '../tf/backend.ts';

const INTEREST_KEYS: Record<string, keyof InterestOptions> = {
  threshold: 'threshold',
  clusters: 'maxClusters',
  pins: 'maxPins',
  halflife: 'halfLifeDays',
  interests: 'maxInterests',
  share: 'singleShare',
};

const LEARNING_KEYS: Record<string, keyof LearningOptions> = {
  lr: 'learningRate',
  steps: 'steps',
  l2: 'l2',
  scale: 'scale',
  halflife: 'halfLifeDays',
  hide: 'hideWeight',
  implicit: 'implicitWeight',
  sampled: 'sampled',
  events: 'maxEvents',
};

/**
 * A variant from its name: `server`, `blend`, `blend:weight=X`, `multi`, or `multi:key=value:…` with keys threshold,
 * clusters, pins, halflife (days), interests, share — so one run can sweep PinnerSage's settings; `learned` or
 * `learned+multi`, with `:key=value` keys lr, steps, l2, scale, halflife (days), hide, implicit, sampled,
 * events (the learner's) and weight (the request's long-term weight), over the bundle's `choice`
 * (`bundleLearningChoice(manifest.learning)`; plain `learned` is the engine's default for that bundle).
 */
export function parseVariant(spec: string, choice?: LearningChoice): ReplayVariant {
  if (spec === 'server') return serverVariant;
  if (spec === 'blend') return blendVariant;
  const [name, ...settings] = spec.split(':');
  if (name === 'blend') return blendWeight(spec, settings);
  if (name === 'learned' || name === 'learned+multi') return learned(spec, name, settings, choice);
  if (name === 'second') return secondDevice(spec, settings, choice);
  if (name !== 'multi')
    throw new InputError(
      `--variant: unknown variant "${spec}" (server, blend, multi, multi:threshold=1.5:…, learned, learned+multi, second:rule=…)`,
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

/**
 * `second[:rule=R]`: a second device starting from what the server serves, the server's and the first
 * device's embeddings combined by rule R — server, device, newest, or a device weight in [0, 1] — with the
 * engine's defaults otherwise: the bundle's learning `choice` on both devices, PinnerSage interests.
 * Without a rule: the server's default.
 */
function secondDevice(spec: string, settings: string[], choice: LearningChoice | undefined): ReplayVariant {
  const [key, value] = (settings[0] ?? `rule=${combineRuleName(DEFAULT_COMBINE_RULE)}`).split('=');
  if (settings.length > 1 || key !== 'rule' || value === undefined)
    throw new InputError(`--variant ${spec}: second takes one setting, rule=server|device|newest|W`);
  try {
    return secondDeviceVariant(initTraining, parseCombineRule(value), choice ? { choice } : {}, spec);
  } catch (error) {
    throw new InputError(`--variant ${spec}: ${(error as Error).message}`);
  }
}

/** `learned[+multi]:key=value:…`: on-device learning with the learner's settings and the request's weight. */
function learned(
  spec: string,
  name: string,
  settings: string[],
  choice: LearningChoice | undefined,
): ReplayVariant {
  const learning: Partial<LearningOptions> = {};
  let weight: number | undefined;
  for (const setting of settings) {
    const [key, value] = setting.split('=');
    const number = Number(value);
    if (value === undefined || value === '' || !(number >= 0))
      throw new InputError(`--variant ${spec}: ${key} must be a number ≥ 0, got "${value ?? ''}"`);
    if (key === 'weight') {
      if (number > 1) throw new InputError(`--variant ${spec}: weight must be in [0, 1]`);
      weight = number;
      continue;
    }
    const field = LEARNING_KEYS[key];
    if (!field)
      throw new InputError(
        `--variant ${spec}: unknown setting "${key}" (${[...Object.keys(LEARNING_KEYS), 'weight'].join(', ')})`,
      );
    learning[field] = number;
  }
  return learnedVariant(
    initTraining,
    {
      ...(choice ? { choice } : {}),
      learning,
      ...(weight !== undefined ? { weight } : {}),
      ...(name === 'learned+multi' ? { multi: {} } : {}),
    },
    spec,
  );
}
