/**
 * The bench scripts refuse a bad command line (test/bench/args.ts): an unknown flag, a flag without its
 * value or a value that does not parse ends the script with one line on stderr and exit code 2 before it
 * loads data or times anything. Every script runs once in a child process (node with tsx) with an unknown
 * flag, a few with a bad value; every such case fails at the parse, so no child does any work (the timeout
 * only stops one that would have started a benchmark). The rest of args.ts is checked in this process.
 * Two scripts that score a split are also run on a fixture too small to score: one line, exit code 1.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { benchArgs } from '../bench/args.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const BENCH = join(ROOT, 'test/bench');

/** Every bench script with a command line. */
const SCRIPTS = [
  'run.ts',
  'train.ts',
  'server.ts',
  'objectives.ts',
  'f32-scan.ts',
  'blend-bundle.ts',
  'blend-space.ts',
  'default-space.ts',
  'graph-cost.ts',
  'graph-validation.ts',
  'replay-learned-backends.ts',
  'student-gap.ts',
  'learning-step.ts',
  'refit-check.ts',
  'browser/trace-slow.ts',
  'browser/run.ts',
];

async function bench(script: string, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', join(BENCH, script), ...args],
      {
        cwd: ROOT,
        timeout: 40_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number | null; signal: string | null; stdout: string; stderr: string };
    return { code: failed.code ?? failed.signal, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe.concurrent('bench scripts refuse a bad command line with exit code 2, before any work', () => {
  for (const script of SCRIPTS)
    it(`${script}: an unknown flag, named with the known ones`, async ({ expect }) => {
      const { code, stdout, stderr } = await bench(script, '--no-such-flag');
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
      expect(stderr).toContain('--no-such-flag');
      expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/unknown flag --no-such-flag \(/)]);
    });

  const BAD: [script: string, args: string[], message: RegExp][] = [
    ['f32-scan.ts', ['--runs', 'abc'], /^f32-scan\.ts: --runs: expected an integer ≥ 1, got 'abc'$/],
    [
      'objectives.ts',
      ['--data', 'x', '--format', 'events', '--only', 'nope'],
      /^objectives\.ts: --only: expected one of next-action, sasrec, all-action, dense-all-action, got 'nope'$/,
    ],
    [
      'browser/run.ts',
      ['--dtypes', 'f32,f8'],
      /^bench:browser: --dtypes: unknown f8 in 'f32,f8' \(a comma list of f32, f16, i8\)$/,
    ],
    [
      'browser/run.ts',
      ['--catalogs', '100'],
      /^bench:browser: --catalogs: expected an integer ≥ 200, got '100'$/,
    ],
    // Read at the end of the script before: now at the top, with the others.
    ['train.ts', ['--speed-data', 'ml-100k,nope'], /--speed-data: unknown nope in 'ml-100k,nope'/],
    [
      'graph-validation.ts',
      ['u.data', 'movielens', 'full', 'gfcf', '{oops'],
      /OPTIONS_JSON: expected a JSON object/,
    ],
  ];
  for (const [script, args, message] of BAD)
    it(`${script} ${args.join(' ')}`, async ({ expect }) => {
      const { code, stdout, stderr } = await bench(script, ...args);
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
      expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    });
});

describe.concurrent('bench scripts that score a split exit 1 in one line when it is too small to score', () => {
  const GAMES_FIXTURE = 'test/fixtures/sequences/games.txt';
  for (const [script, args] of [
    ['objectives.ts', ['--data', GAMES_FIXTURE, '--format', 'sequences', '--protocol', 'sasrec']],
    ['graph-validation.ts', [GAMES_FIXTURE, 'sequences', 'sasrec', 'lightgcn']],
  ] as const)
    it(script, async ({ expect }) => {
      const { code, stdout, stderr } = await bench(script, ...args);
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
      expect(stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(
            `^${script.replace('.', '\\.')}: none of the 3 users can be scored on the valid stage of the sasrec protocol`,
          ),
        ),
      ]);
    });
});

describe('benchArgs', () => {
  const FLAGS = {
    count: { type: 'string', value: 'N' },
    over: { type: 'string', value: 'MS' },
    db: { type: 'string', value: 'sqlite,postgres' },
    horizons: { type: 'string', value: 'DAYS,…' },
    only: { type: 'string', value: 'a|b' },
    options: { type: 'string', value: 'JSON' },
    json: { type: 'boolean' },
  } as const;

  /** What a command line gives, or the line it is refused with (process.exit and stderr stubbed). */
  function parse<T>(args: string[], read: (parsed: ReturnType<typeof benchArgs<typeof FLAGS>>) => T) {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((text) => {
      lines.push(String(text));
      return true;
    });
    vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw Object.assign(new Error('exit'), { exitCode: code });
    });
    try {
      return read(benchArgs({ script: 's.ts', flags: FLAGS }, args));
    } catch (error) {
      const { exitCode } = error as { exitCode?: number };
      if (exitCode === undefined) throw error;
      return { exit: exitCode, stderr: lines.join('') };
    }
  }
  afterEach(() => vi.restoreAllMocks());

  it('gives the defaults, and the values given', () => {
    const read = (p: ReturnType<typeof benchArgs<typeof FLAGS>>) => ({
      count: p.integer('count', 1_000_000, 1),
      over: p.number('over', 10, { min: 0 }),
      db: p.list('db', ['sqlite', 'postgres'], ['sqlite', 'postgres']),
      horizons: p.numbers('horizons', [7, 28], { above: 0 }),
      only: p.choice('only', ['a', 'b'], undefined),
      json: p.values.json ?? false,
    });
    expect(parse([], read)).toEqual({
      count: 1_000_000,
      over: 10,
      db: ['sqlite', 'postgres'],
      horizons: [7, 28],
      only: undefined,
      json: false,
    });
    expect(
      parse(
        ['--count', '1e3', '--over=0', '--db', 'postgres', '--horizons', '3, 5.5', '--only', 'b', '--json'],
        read,
      ),
    ).toEqual({ count: 1000, over: 0, db: ['postgres'], horizons: [3, 5.5], only: 'b', json: true });
  });

  it('refuses, in one line naming the flag and what it takes', () => {
    const refused = (
      args: string[],
      read: (p: ReturnType<typeof benchArgs<typeof FLAGS>>) => unknown = () => 0,
    ) => parse(args, read);
    const known =
      '(flags: --count N, --over MS, --db sqlite,postgres, --horizons DAYS,…, --only a|b, --options JSON, --json)';
    expect(refused(['--jsno'])).toEqual({ exit: 2, stderr: `s.ts: unknown flag --jsno ${known}\n` });
    expect(refused(['--count'])).toEqual({ exit: 2, stderr: 's.ts: --count needs a value: --count N\n' });
    expect(refused(['--count', '--json'])).toEqual({
      exit: 2,
      stderr: "s.ts: --count needs a value: --count N (a value starting with '-' goes as --count=-…)\n",
    });
    expect(refused(['--json=1'])).toEqual({ exit: 2, stderr: 's.ts: --json takes no value\n' });
    expect(refused(['extra'])).toEqual({ exit: 2, stderr: `s.ts: unexpected argument extra ${known}\n` });
    const cases: [string[], (p: ReturnType<typeof benchArgs<typeof FLAGS>>) => unknown, string][] = [
      [['--count', 'abc'], (p) => p.integer('count', 1, 1), "--count: expected an integer ≥ 1, got 'abc'"],
      [['--count', ''], (p) => p.integer('count', 1, 1), "--count: expected an integer ≥ 1, got ''"],
      [['--count=-3'], (p) => p.integer('count', 1, 0), "--count: expected an integer ≥ 0, got '-3'"],
      [['--count', '2.5'], (p) => p.integer('count', 1), "--count: expected an integer, got '2.5'"],
      [['--over', 'NaN'], (p) => p.number('over', 1, { min: 0 }), "--over: expected a number ≥ 0, got 'NaN'"],
      [['--over', '0'], (p) => p.number('over', 1, { above: 0 }), "--over: expected a number > 0, got '0'"],
      [
        ['--db', 'sqlite,mysql'],
        (p) => p.list('db', ['sqlite'], ['sqlite', 'postgres']),
        "--db: unknown mysql in 'sqlite,mysql' (a comma list of sqlite, postgres)",
      ],
      [
        ['--horizons', '7,,28'],
        (p) => p.numbers('horizons', [7], { above: 0 }),
        "--horizons: an empty item in '7,,28'",
      ],
      [['--only', 'c'], (p) => p.choice('only', ['a', 'b'], 'a'), "--only: expected one of a, b, got 'c'"],
      [
        ['--options', '[1]'],
        (p) => p.asJsonObject('--options', p.values.options ?? '{}'),
        "--options: expected a JSON object, got '[1]'",
      ],
      [[], (p) => p.required('only'), `--only a|b is required ${known}`],
    ];
    for (const [args, read, line] of cases)
      expect(refused(args, read), args.join(' ')).toEqual({ exit: 2, stderr: `s.ts: ${line}\n` });
  });

  it('takes positionals where the script says so, within its count', () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((text) => {
      lines.push(String(text));
      return true;
    });
    vi.spyOn(process, 'exit').mockImplementation(() => {
      throw new Error('exit');
    });
    const spec = {
      script: 'g.ts',
      flags: { test: { type: 'boolean' } },
      positionals: { usage: 'g.ts DATA FORMAT [JSON]', min: 2, max: 3 },
    } as const;
    expect(benchArgs(spec, ['d', '--test', 'f'])).toMatchObject({
      positionals: ['d', 'f'],
      values: { test: true },
    });
    expect(() => benchArgs(spec, ['d'])).toThrow('exit');
    expect(() => benchArgs(spec, ['d', 'f', 'j', 'x'])).toThrow('exit');
    expect(lines).toEqual([
      'g.ts: expected g.ts DATA FORMAT [JSON], got 1 argument(s) (g.ts DATA FORMAT [JSON]; flags: --test)\n',
      'g.ts: expected g.ts DATA FORMAT [JSON], got 4 argument(s) (g.ts DATA FORMAT [JSON]; flags: --test)\n',
    ]);
  });
});

describe('bench scripts', () => {
  it('read their command line with parseArgs (through test/bench/args.ts), never process.argv by hand', () => {
    const files = readdirSync(BENCH, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && file !== 'args.ts')
      .map((file) => [relative(BENCH, join(BENCH, file)), readFileSync(join(BENCH, file), 'utf8')] as const);
    expect(files.filter(([, text]) => text.includes('process.argv')).map(([file]) => file)).toEqual([]);
    const parsing = files.filter(([, text]) => /benchArgs\(|parseArgs\(/.test(text)).map(([file]) => file);
    expect(parsing.sort()).toEqual([...SCRIPTS].sort());
  });
});
