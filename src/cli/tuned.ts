import { readFileSync } from 'node:fs';
import { InputError } from '../core/errors.ts';
import type { Configuration } from '../train/tune/index.ts';
import { TUNABLE, TUNABLE_MODELS, type TunableModel } from '../train/tune/index.ts';

/** The part of an `edgerec tune --json` result that `edgerec eval --tuned` fits with. */
export interface TunedSettings {
  path: string;
  model: TunableModel;
  protocol: string;
  metric: string;
  /** The winner's options, chosen on the validation stage only. */
  options: Configuration;
  /** Absent in results written before tune recorded them. */
  dataName?: string;
  positives?: string;
  validationUsers: number;
}

/** Reads a tune result and checks its winner's options against the model's option specs. */
export function readTuned(path: string): TunedSettings {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InputError(`--tuned ${path}: not a readable JSON file (${(error as Error).message})`);
  }
  const result = value as Record<string, unknown>;
  const winner = result?.winner as { options?: unknown } | undefined;
  const model = result?.model as TunableModel;
  if (!TUNABLE_MODELS.includes(model) || typeof result.protocol !== 'string' || !winner?.options)
    throw new InputError(`--tuned ${path}: not an edgerec tune --json result (model, protocol, winner)`);
  const options = winner.options as Configuration;
  const specs = TUNABLE[model].options;
  for (const [key, option] of Object.entries(options)) {
    if (!(key in specs)) throw new InputError(`--tuned ${path}: ${model} has no option ${key}`);
    const problem = specs[key].check(option);
    if (problem) throw new InputError(`--tuned ${path}: ${key} ${problem}`);
  }
  return {
    path,
    model,
    protocol: result.protocol,
    metric: String(result.metric),
    options,
    dataName: typeof result.dataName === 'string' ? result.dataName : undefined,
    positives: typeof result.positives === 'string' ? result.positives : undefined,
    validationUsers: typeof result.validationUsers === 'number' ? result.validationUsers : 2000,
  };
}
