import { InputError } from '../../core/errors.ts';

/** What one tunable option accepts; `check` returns an error message (without the key) for a bad value. */
export interface OptionSpec {
  describe: string;
  check(value: unknown): string | undefined;
}

const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

export const integerAtLeast = (min: number): OptionSpec => ({
  describe: `an integer >= ${min}`,
  check: (value) => (isInteger(value) && value >= min ? undefined : `must be an integer >= ${min}`),
});

export const positiveNumber: OptionSpec = {
  describe: 'a number > 0',
  check: (value) => (isNumber(value) && value > 0 ? undefined : 'must be a number > 0'),
};

export const nonNegativeNumber: OptionSpec = {
  describe: 'a number >= 0',
  check: (value) => (isNumber(value) && value >= 0 ? undefined : 'must be a number >= 0'),
};

export const fraction: OptionSpec = {
  describe: 'a number in [0, 1]',
  check: (value) => (isNumber(value) && value >= 0 && value <= 1 ? undefined : 'must be a number in [0, 1]'),
};

export const boolean: OptionSpec = {
  describe: 'true or false',
  check: (value) => (typeof value === 'boolean' ? undefined : 'must be true or false'),
};

/** A probability of dropping or replacing something: 1 would leave nothing to learn from. */
export const rate: OptionSpec = {
  describe: 'a number in [0, 1)',
  check: (value) => (isNumber(value) && value >= 0 && value < 1 ? undefined : 'must be a number in [0, 1)'),
};

export const oneOf = (words: readonly string[]): OptionSpec => ({
  describe: words.map((w) => `"${w}"`).join(' | '),
  check: (value) =>
    words.includes(value as string) ? undefined : `must be one of ${words.map((w) => `"${w}"`).join(', ')}`,
});

export const oneOfOrInteger = (words: string[], min: number): OptionSpec => ({
  describe: `${words.map((w) => `"${w}"`).join(' or ')} or an integer >= ${min}`,
  check: (value) =>
    (isInteger(value) && value >= min) || words.includes(value as string)
      ? undefined
      : `must be ${words.map((w) => `"${w}"`).join(' or ')} or an integer >= ${min}`,
});

/** One point of the grid: option name → value, in the grid file's key order. */
export type Configuration = Record<string, unknown>;

/** Most configurations one grid may expand to: a typo of a list is cheaper to catch than to run. */
export const MAX_CONFIGURATIONS = 1000;

/**
 * Reads a grid file: one JSON object mapping option names of the model to non-empty lists of values, e.g.
 * `{"learningRate": [0.05, 0.1], "dim": [32, 64]}`. `{}` is one configuration, the model's defaults. Every
 * error names the file, the key and, for a bad value, its position in the list.
 */
export function parseGrid(
  text: string,
  source: string,
  model: string,
  specs: Readonly<Record<string, OptionSpec>>,
): Record<string, unknown[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${source}: not valid JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new InputError(`${source}: must be a JSON object mapping ${model} option names to lists of values`);
  const known = Object.keys(specs);
  const grid: Record<string, unknown[]> = {};
  for (const [key, values] of Object.entries(parsed)) {
    const spec = specs[key];
    if (!spec) {
      const allowed = known.length > 0 ? `one of: ${known.join(', ')}` : `${model} has no options to tune`;
      throw new InputError(`${source}: "${key}" is not an option of ${model} (${allowed})`);
    }
    if (!Array.isArray(values) || values.length === 0)
      throw new InputError(`${source}: "${key}" must be a non-empty list of values (${spec.describe})`);
    const seen = new Set<string>();
    values.forEach((value, index) => {
      const problem = spec.check(value);
      if (problem)
        throw new InputError(`${source}: "${key}"[${index}] ${problem}, got ${JSON.stringify(value)}`);
      const text = JSON.stringify(value);
      if (seen.has(text)) throw new InputError(`${source}: "${key}" lists ${text} twice`);
      seen.add(text);
    });
    grid[key] = values;
  }
  const size = Object.values(grid).reduce((n, values) => n * values.length, 1);
  if (size > MAX_CONFIGURATIONS)
    throw new InputError(
      `${source}: the grid expands to ${size} configurations, more than ${MAX_CONFIGURATIONS}`,
    );
  return grid;
}

/** The cartesian product, the last key varying fastest (the order rows are run and ties are broken in). */
export function expandGrid(grid: Readonly<Record<string, readonly unknown[]>>): Configuration[] {
  let out: Configuration[] = [{}];
  for (const [key, values] of Object.entries(grid))
    out = out.flatMap((partial) => values.map((value) => ({ ...partial, [key]: value })));
  return out;
}
