import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/edgerec.mjs');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function edgerec(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { maxBuffer: 1 << 26 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const work = mkdtempSync(join(tmpdir(), 'edgerec-cli-'));

describe('edgerec CLI', () => {
  it('generates a synthetic data set that data stats and eval then read', async () => {
    const out = join(work, 'syn');
    const gen = await edgerec(
      'data',
      'gen',
      '--out',
      out,
      '--users',
      '200',
      '--items',
      '600',
      '--events',
      '20000',
      '--seed',
      '3',
      '--json',
    );
    expect(gen.code).toBe(0);
    const summary = JSON.parse(gen.stdout);
    expect(summary).toMatchObject({ users: 200, items: 600, rows: 20000, seed: 3 });
    expect(readFileSync(join(out, 'events.jsonl'), 'utf8').trim().split('\n')).toHaveLength(20000);

    const stats = await edgerec(
      'data',
      'stats',
      '--data',
      join(out, 'events.jsonl'),
      '--format',
      'events',
      '--json',
    );
    expect(stats.code).toBe(0);
    const parsed = JSON.parse(stats.stdout);
    expect(parsed.users).toBe(200);
    expect(parsed.items).toBe(600);
    expect(parsed.events).toBe(20000);
    expect(parsed.catalog.boards).toBeGreaterThan(0);

    const evaluated = await edgerec(
      'eval',
      '--data',
      join(out, 'events.jsonl'),
      '--format',
      'events',
      '--protocol',
      'full',
      '--model',
      'pop',
      '--json',
    );
    expect(evaluated.code).toBe(0);
  });

  it('prints exactly one JSON object with the documented keys for eval --json', async () => {
    const file = join(work, 'seq.txt');
    const lines: string[] = [];
    for (let u = 1; u <= 40; u++)
      for (let t = 0; t < 6; t++) lines.push(`${u} ${((u * 7 + t * 3) % 25) + 1}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const result = await edgerec(
      'eval',
      '--data',
      file,
      '--format',
      'sequences',
      '--protocol',
      'sasrec',
      '--model',
      'pop',
      '--negatives',
      '10',
      '--json',
    );
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    const report = JSON.parse(result.stdout);
    expect(Object.keys(report)).toEqual(
      expect.arrayContaining(['data', 'protocol', 'model', 'users', 'metrics', 'seconds']),
    );
    expect(report).toMatchObject({ data: file, protocol: 'sasrec', model: 'pop', users: 40 });
    expect(report.metrics['HR@10']).toBeGreaterThanOrEqual(0);
    expect(report.metrics['HR@10']).toBeLessThanOrEqual(1);
    expect(typeof report.metrics['NDCG@10']).toBe('number');
  });

  it.each([
    ['wrong column count', '1 2\n3 4 5\n', /bad\.txt:2: expected 2 columns/],
    ['non-numeric id', '1 2\nx 4\n', /bad\.txt:2: user id must be a non-negative integer/],
    ['empty file', '', /bad\.txt:1: file is empty/],
  ])('exits 2 with one line naming file and line for a %s', async (_name, content, pattern) => {
    const file = join(work, 'bad.txt');
    writeFileSync(file, content);
    const result = await edgerec('eval', '--data', file, '--format', 'sequences', '--model', 'pop', '--json');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(pattern);
  });

  it('exits 2 naming a missing file', async () => {
    const missing = join(work, 'nope.txt');
    expect(existsSync(missing)).toBe(false);
    const result = await edgerec('eval', '--data', missing, '--format', 'sequences', '--model', 'pop');
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`edgerec: ${missing}: file not found`);
  });

  it('exits 2 on an unknown format, model or protocol, listing the allowed values', async () => {
    const format = await edgerec('eval', '--data', 'x', '--format', 'csv', '--model', 'pop');
    expect(format.code).toBe(2);
    expect(format.stderr).toMatch(/movielens, sequences, lightgcn, ncf, events/);
    const model = await edgerec('eval', '--data', 'x', '--format', 'sequences', '--model', 'sasrec');
    expect(model.code).toBe(2);
    expect(model.stderr).toMatch(/pop, itemknn, bpr/);
    const protocol = await edgerec(
      'eval',
      '--data',
      'x',
      '--format',
      'sequences',
      '--model',
      'pop',
      '--protocol',
      'loo',
    );
    expect(protocol.code).toBe(2);
  });

  it('exits 2 when the temporal protocol meets data without timestamps', async () => {
    const file = join(work, 'seq.txt');
    const result = await edgerec(
      'eval',
      '--data',
      file,
      '--format',
      'sequences',
      '--model',
      'pop',
      '--protocol',
      'temporal',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/temporal protocol needs timestamps/);
  });
});
