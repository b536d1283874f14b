/**
 * The command line of the bench scripts under test/bench: `node:util`'s parseArgs in strict mode, plus the
 * checks of a value, in one place so that every script refuses alike. Reading `process.argv` by hand let a
 * mistyped flag (`--jsno`), a flag without its value or a value that does not parse (`--runs abc`) go by
 * unnoticed, and the run went on with defaults. Here any of them stops the script with one line on stderr
 * that names the flag and what is allowed (the known flags, for an unknown one) and exit code 2, and a
 * script parses first thing, before it loads data or times anything. test/unit/bench-args.test.ts spawns
 * every script with a bad flag.
 */
import { parseArgs } from 'node:util';

/** A flag: a switch, or one that takes a value, shown in messages as `--name VALUE` (`N`, `DIR`, `a,b`). */
export type Flag = { type: 'boolean' } | { type: 'string'; value: string };

type Values<F extends Record<string, Flag>> = {
  [K in keyof F]?: F[K] extends { type: 'boolean' } ? boolean : string;
};
/** The names of the flags that take a value. */
type ValueFlag<F extends Record<string, Flag>> = {
  [K in keyof F]: F[K] extends { type: 'string' } ? K : never;
}[keyof F] &
  string;

/** A lower bound of a number: `{ min: 0 }` (≥ 0) or `{ above: 0 }` (> 0). */
export type Bound = { min: number } | { above: number };

export interface BenchArgsSpec<F extends Record<string, Flag>> {
  /** How messages name the script (`f32-scan.ts`). */
  script: string;
  flags: F;
  /** Arguments other than flags, where the script takes some; without this, any is refused. */
  positionals?: { usage: string; min: number; max: number };
}

export function benchArgs<const F extends Record<string, Flag>>(
  spec: BenchArgsSpec<F>,
  args: string[] = process.argv.slice(2),
) {
  function fail(text: string): never {
    process.stderr.write(`${spec.script}: ${text}\n`);
    process.exit(2);
  }
  const names = Object.keys(spec.flags);
  const shown = (name: string) => {
    const flag = spec.flags[name];
    return flag.type === 'string' ? `--${name} ${flag.value}` : `--${name}`;
  };
  const known = names.length > 0 ? `flags: ${names.map(shown).join(', ')}` : 'it takes no flags';
  const usage = spec.positionals ? `${spec.positionals.usage}; ${known}` : known;

  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(names.map((name) => [name, { type: spec.flags[name].type }])),
      strict: true,
      allowPositionals: spec.positionals !== undefined,
    });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    // Node's messages quote the argument at fault: 'Unknown option '--jsno'', 'Option '--runs <value>' …'.
    const quoted = /'([^' ]+)/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) fail(`unknown flag ${quoted} (${usage})`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted)
      fail(`unexpected argument ${quoted} (${usage})`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) {
      const name = quoted.replace(/^--/, '');
      if (spec.flags[name]?.type === 'boolean') fail(`${quoted} takes no value`);
      // 'argument is ambiguous': the next argument starts with '-', a flag or a negative number.
      if (spec.flags[name])
        fail(
          `${quoted} needs a value: ${shown(name)}` +
            (message.includes('ambiguous') ? ` (a value starting with '-' goes as ${quoted}=-…)` : ''),
        );
    }
    fail(`${message.split('\n')[0]} (${usage})`);
  }
  const values = parsed.values as Values<F>;
  const positionals = parsed.positionals;
  if (
    spec.positionals &&
    (positionals.length < spec.positionals.min || positionals.length > spec.positionals.max)
  )
    fail(`expected ${spec.positionals.usage}, got ${positionals.length} argument(s) (${usage})`);

  /** `text` as an integer ≥ min (anything `Number` reads as one: 1000000, 1e6). */
  const asInteger = (label: string, text: string, min = -Infinity): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < min)
      fail(`${label}: expected an integer${min > -Infinity ? ` ≥ ${min}` : ''}, got '${text}'`);
    return n;
  };
  /** `text` as a finite number within `bound`. */
  const asNumber = (label: string, text: string, bound: Bound): number => {
    const n = Number(text);
    const fits = 'min' in bound ? n >= bound.min : n > bound.above;
    if (text.trim() === '' || !Number.isFinite(n) || !fits)
      fail(
        `${label}: expected a number ${'min' in bound ? `≥ ${bound.min}` : `> ${bound.above}`}, got '${text}'`,
      );
    return n;
  };
  /** `text`, one of `allowed`. */
  const asChoice = <T extends string>(label: string, text: string, allowed: readonly T[]): T => {
    if (!allowed.includes(text as T)) fail(`${label}: expected one of ${allowed.join(', ')}, got '${text}'`);
    return text as T;
  };
  /** `text` as a JSON object (`{"learningRate":0.005}`). */
  const asJsonObject = (label: string, text: string): Record<string, unknown> => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      fail(`${label}: expected a JSON object, got '${text}'`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      fail(`${label}: expected a JSON object, got '${text}'`);
    return value as Record<string, unknown>;
  };
  /** The comma-separated items of `text`, none empty, each one of `allowed` where that is given. */
  const asList = <T extends string>(label: string, text: string, allowed?: readonly T[]): T[] => {
    const items = text.split(',').map((item) => item.trim());
    for (const item of items)
      if (item === '' || (allowed && !allowed.includes(item as T)))
        fail(
          `${label}: ${item === '' ? 'an empty item' : `unknown ${item}`} in '${text}'` +
            (allowed ? ` (a comma list of ${allowed.join(', ')})` : ''),
        );
    return items as T[];
  };

  return {
    values,
    positionals,
    fail,
    asInteger,
    asNumber,
    asChoice,
    asJsonObject,
    asList,
    /** The value of a flag that must be given. */
    required(name: ValueFlag<F>): string {
      const value = values[name] as string | undefined;
      if (value === undefined || value === '') return fail(`${shown(name)} is required (${usage})`);
      return value;
    },
    integer(name: ValueFlag<F>, fallback: number, min?: number): number {
      const value = values[name] as string | undefined;
      return value === undefined ? fallback : asInteger(`--${name}`, value, min);
    },
    number(name: ValueFlag<F>, fallback: number, bound: Bound): number {
      const value = values[name] as string | undefined;
      return value === undefined ? fallback : asNumber(`--${name}`, value, bound);
    },
    /** A comma list of numbers within `bound`. */
    numbers(name: ValueFlag<F>, fallback: number[], bound: Bound): number[] {
      const value = values[name] as string | undefined;
      if (value === undefined) return fallback;
      return asList(`--${name}`, value).map((item) => asNumber(`--${name}`, item, bound));
    },
    /** One of `allowed` (`fallback` may be undefined: no default). */
    choice<T extends string, D extends T | undefined>(
      name: ValueFlag<F>,
      allowed: readonly T[],
      fallback: D,
    ): T | D {
      const value = values[name] as string | undefined;
      return value === undefined ? fallback : asChoice(`--${name}`, value, allowed);
    },
    /** A comma list of `allowed` (any items where `allowed` is left out). */
    list<T extends string>(name: ValueFlag<F>, fallback: readonly T[], allowed?: readonly T[]): T[] {
      const value = values[name] as string | undefined;
      return value === undefined ? [...fallback] : asList(`--${name}`, value, allowed);
    },
  };
}
