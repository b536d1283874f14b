import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/core/eval/harness.ts';
import type { EvalSplit } from '../../src/core/eval/split.ts';
import { InteractionLogBuilder, userItemsFromLists } from '../../src/core/interactions.ts';
import { Random } from '../../src/core/random.ts';
import { PopularityRecommender } from '../../src/train/baselines/index.ts';
import {
  expandGrid,
  parseGrid,
  TestStageAccessError,
  TUNABLE,
  tune,
  validationStageOnly,
} from '../../src/train/tune/index.ts';

/**
 * Users walk a ring of items with noise, so item-kNN and BPR learn something and configurations differ.
 * Leave-last-out: valid = second-to-last item, test = last item.
 */
function ringSplit(numUsers = 120, numItems = 60, seed = 7): EvalSplit {
  const random = new Random(seed);
  const train: number[][] = [];
  const valid: number[][] = [];
  const test: number[][] = [];
  const log = new InteractionLogBuilder();
  for (let u = 0; u < numUsers; u++) {
    const length = 6 + random.int(10);
    const seq: number[] = [];
    let item = random.int(numItems);
    for (let t = 0; t < length; t++) {
      seq.push(item);
      item = random.next() < 0.8 ? (item + 1 + random.int(2)) % numItems : random.int(numItems);
    }
    const distinct = [...new Set(seq)];
    train.push(distinct.slice(0, -2));
    valid.push(distinct.slice(-2, -1));
    test.push(distinct.slice(-1));
    for (const [t, i] of distinct.slice(0, -2).entries()) log.push(u, i, 1, t);
  }
  const validLog = new InteractionLogBuilder();
  valid.forEach((items, u) => {
    validLog.push(u, items[0], 1, 100);
  });
  return {
    protocol: 'sasrec',
    numUsers,
    numItems,
    train: userItemsFromLists(train),
    valid: userItemsFromLists(valid),
    test: userItemsFromLists(test),
    trainLog: log.build(),
    validLog: validLog.build(),
    hasTimestamps: false,
    givenNegatives: new Map([[0, Int32Array.from([1, 2, 3])]]),
    description: 'ring walks, leave-last-out',
  };
}

/** The same split with every test target replaced (and the validation-period events with them). */
function withScrambledTest(split: EvalSplit, seed: number): EvalSplit {
  const random = new Random(seed);
  const items = Int32Array.from(split.test.items, () => random.int(split.numItems));
  random.shuffle(items);
  const validLog = new InteractionLogBuilder();
  for (let u = 0; u < split.numUsers; u++) validLog.push(u, random.int(split.numItems), 2, 5);
  return {
    ...split,
    test: { offsets: split.test.offsets, items },
    validLog: validLog.build(),
    givenNegatives: new Map([[3, Int32Array.from([9, 8])]]),
  };
}

const fixedClock = () => 0;

describe('grid files', () => {
  const bpr = TUNABLE.bpr.options;

  it('expands to the cartesian product, last key fastest', () => {
    const grid = parseGrid('{"dim": [8, 16], "learningRate": [0.1, 0.2, 0.3]}', 'g.json', 'bpr', bpr);
    const configurations = expandGrid(grid);
    expect(configurations).toHaveLength(6);
    expect(configurations[0]).toEqual({ dim: 8, learningRate: 0.1 });
    expect(configurations[1]).toEqual({ dim: 8, learningRate: 0.2 });
    expect(configurations[5]).toEqual({ dim: 16, learningRate: 0.3 });
    expect(expandGrid(parseGrid('{}', 'g.json', 'pop', TUNABLE.pop.options))).toEqual([{}]);
  });

  it('names the file, the key and the value of every mistake', () => {
    const parse =
      (text: string, model: keyof typeof TUNABLE = 'bpr') =>
      () =>
        parseGrid(text, 'g.json', model, TUNABLE[model].options);
    expect(parse('{"dim": [8,')).toThrow(/g\.json: not valid JSON/);
    expect(parse('[1, 2]')).toThrow(/g\.json: must be a JSON object/);
    expect(parse('{"lr": [0.1]}')).toThrow(
      /g\.json: "lr" is not an option of bpr \(one of: dim, learningRate/,
    );
    expect(parse('{"dim": 8}')).toThrow(
      /g\.json: "dim" must be a non-empty list of values \(an integer >= 1\)/,
    );
    expect(parse('{"dim": []}')).toThrow(/"dim" must be a non-empty list/);
    expect(parse('{"dim": [8, 0.5]}')).toThrow(/g\.json: "dim"\[1\] must be an integer >= 1, got 0\.5/);
    expect(parse('{"learningRate": [0.1, "fast"]}')).toThrow(
      /"learningRate"\[1\] must be a number > 0, got "fast"/,
    );
    expect(parse('{"dim": [8, 8]}')).toThrow(/"dim" lists 8 twice/);
    expect(parse('{"dim": [8]}', 'pop')).toThrow(
      /"dim" is not an option of pop \(pop has no options to tune\)/,
    );
    expect(parse('{"decay": [1.5]}', 'itemknn')).toThrow(
      /"decay"\[0\] must be a number in \[0, 1\], got 1\.5/,
    );
    expect(parse('{"inferenceNeighbors": ["every"]}', 'gnn')).toThrow(
      /"all" or an integer >= 1, got "every"/,
    );
    // PinnerFormer's specs are spelt out, not read off the defaults: logQWeight's default 1 is no integer.
    const pinnerformer = parseGrid(
      '{"logQWeight": [1, 1.5], "plateauDecay": [0.5], "itemReplacement": [0.1], "objective": ["dense-all-action"]}',
      'g.json',
      'pinnerformer',
      TUNABLE.pinnerformer.options,
    );
    expect(expandGrid(pinnerformer)).toHaveLength(2);
    expect(parse('{"objective": ["bert"]}', 'pinnerformer')).toThrow(
      /"objective"\[0\] must be one of "next-action", "sasrec", "all-action", "dense-all-action", got "bert"/,
    );
    expect(parse('{"dropout": [1]}', 'pinnerformer')).toThrow(
      /"dropout"\[0\] must be a number in \[0, 1\), got 1/,
    );
    expect(parse('{"seed": [2]}', 'pinnerformer')).toThrow(/"seed" is not an option of pinnerformer/);
    const big = JSON.stringify({
      dim: range(10, 1),
      learningRate: range(10, 0.01),
      regularization: range(11, 0),
    });
    expect(parse(big)).toThrow(/expands to 1100 configurations, more than 1000/);
  });
});

function range(n: number, from: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i * (from < 1 ? 0.01 : 1));
}

describe('the validation-stage view of a split', () => {
  it('throws on any read of the test stage, so no scorer can reach test targets', () => {
    const view = validationStageOnly(ringSplit());
    expect(() => view.test).toThrow(TestStageAccessError);
    expect(() => view.validLog).toThrow(/split\.validLog was read/);
    expect(() => view.givenNegatives).toThrow(/split\.givenNegatives was read/);
    const model = new PopularityRecommender();
    expect(() => evaluate(model, view, 'test')).toThrow(TestStageAccessError);
    // Copies of the view (spread) drop the test stage instead of reading it.
    expect(Object.keys({ ...view })).not.toContain('test');
  });

  it('scores the validation stage exactly as the full split does', async () => {
    const split = ringSplit();
    const model = new PopularityRecommender();
    await model.fit({ ...split, log: split.trainLog });
    expect(evaluate(model, validationStageOnly(split), 'valid')).toEqual(evaluate(model, split, 'valid'));
  });
});

describe('tune', () => {
  it('gives byte-identical output when every test target is replaced', async () => {
    const split = ringSplit();
    const scrambled = withScrambledTest(split, 99);
    let changed = 0;
    for (let i = 0; i < split.test.items.length; i++)
      changed += Number(split.test.items[i] !== scrambled.test.items[i]);
    expect(changed).toBeGreaterThan(split.numUsers / 2);
    for (const [model, grid] of [
      ['itemknn', { neighbors: [5, 40], decay: [1, 0.5] }],
      ['bpr', { dim: [8], learningRate: [0.05, 0.2], maxEpochs: [10] }],
    ] as const) {
      const run = (s: EvalSplit) => tune(s, { model, grid, protocol: 'sasrec', seed: 3, clock: fixedClock });
      const original = JSON.stringify(await run(split));
      expect(JSON.stringify(await run(scrambled))).toBe(original);
      // A different test stage must not matter, but a different validation stage must (the test can fail).
      const moved = { ...split, valid: scrambled.test };
      expect(JSON.stringify(await run(moved))).not.toBe(original);
    }
  });

  it('sorts rows by the validation metric, best first, and names the winner', async () => {
    const result = await tune(ringSplit(), {
      model: 'itemknn',
      grid: { neighbors: [1, 40], decay: [1] },
      protocol: 'sasrec',
      seed: 0,
      clock: fixedClock,
    });
    expect(result.metric).toBe('NDCG@10');
    expect(result.rows).toHaveLength(2);
    expect(result.rows[0].validation['NDCG@10']).toBeGreaterThan(result.rows[1].validation['NDCG@10']);
    expect(result.winner).toEqual({ options: result.rows[0].options, validation: result.rows[0].validation });
    expect(result.winner.options).toEqual({ neighbors: 40, decay: 1 });
  });

  it('tunes item-to-item retrieval on the validation co-engagements', async () => {
    const result = await tune(ringSplit(), {
      model: 'itemknn',
      grid: { neighbors: [2, 20] },
      protocol: 'item2item',
      metric: 'MRR',
      seed: 0,
      clock: fixedClock,
    });
    expect(result.protocol).toBe('item2item');
    expect(result.rows[0].validation.MRR).toBeGreaterThanOrEqual(result.rows[1].validation.MRR);
    expect(result.rows[0].validation.MRR).toBeGreaterThan(0);
  });

  it('refuses item-to-item for a model without item similarities, before fitting', async () => {
    await expect(
      tune(ringSplit(), { model: 'bpr', grid: { maxEpochs: [1000] }, protocol: 'item2item', seed: 0 }),
    ).rejects.toThrow(/item2item needs a model with item similarities .*not bpr/);
  });

  it('refuses options that do not fit together before fitting any row', async () => {
    const rows: unknown[] = [];
    await expect(
      tune(ringSplit(), {
        model: 'pinnerformer',
        grid: { dim: [8, 6], heads: [4] },
        protocol: 'sasrec',
        seed: 0,
        onProgress: (event) => rows.push(event),
      }),
    ).rejects.toThrow(/pinnerformer: dim 6 must be a multiple of heads 4/);
    expect(rows).toEqual([]);
  });

  it('refuses a metric the protocol does not report', async () => {
    await expect(
      tune(ringSplit(), { model: 'pop', grid: {}, protocol: 'sasrec', metric: 'Recall@10', seed: 0 }),
    ).rejects.toThrow(/--metric Recall@10 is not a metric of sasrec \(one of: HR@5/);
  });
});

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/edgerec.mjs');

describe('edgerec tune', () => {
  const work = mkdtempSync(join(tmpdir(), 'edgerec-tune-'));
  const data = join(work, 'seq.txt');
  const random = new Random(5);
  const lines: string[] = [];
  for (let u = 1; u <= 80; u++) {
    let item = 1 + random.int(40);
    for (let t = 0; t < 8; t++) {
      lines.push(`${u} ${item}`);
      item = 1 + ((item + random.int(3)) % 40);
    }
  }
  writeFileSync(data, `${lines.join('\n')}\n`);

  it('prints exactly one JSON object with every row and the winner', async () => {
    const grid = join(work, 'grid.json');
    writeFileSync(grid, '{"neighbors": [3, 30]}');
    const args = ['tune', '--data', data, '--format', 'sequences', '--model', 'itemknn', '--grid', grid];
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args, '--json', '--seed', '2']);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]);
    expect(Object.keys(report)).toEqual([
      'data',
      'dataName',
      'positives',
      'validationUsers',
      'protocol',
      'model',
      'metric',
      'seed',
      'rows',
      'winner',
    ]);
    expect(report).toMatchObject({ data, protocol: 'sasrec', model: 'itemknn', metric: 'NDCG@10', seed: 2 });
    expect(report.rows.map((r: { options: unknown }) => r.options)).toHaveLength(2);
    expect(Object.keys(report.rows[0])).toEqual(['options', 'validation', 'seconds']);
    expect(report.winner.options).toEqual(report.rows[0].options);
    // Progress goes to stderr, one line per scored configuration.
    expect(stderr).toMatch(/2\/2 \{"neighbors":30\}: \d\.\d{4}/);
  });

  it('exits 2 naming the grid key of a bad grid', async () => {
    const grid = join(work, 'bad.json');
    writeFileSync(grid, '{"neighbours": [3]}');
    const args = ['tune', '--data', data, '--format', 'sequences', '--model', 'itemknn', '--grid', grid];
    const failed = await run(process.execPath, [BIN, ...args]).catch((error) => error);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain(`${grid}: "neighbours" is not an option of itemknn (one of: neighbors,`);
  });

  it('eval --tuned fits with the winner and refuses another model, protocol or data set', async () => {
    const grid = join(work, 'bpr-grid.json');
    writeFileSync(grid, '{"dim": [4, 8], "learningRate": [0.05], "maxEpochs": [10]}');
    const tuneArgs = ['tune', '--data', data, '--format', 'sequences', '--model', 'bpr', '--grid', grid];
    const { stdout } = await run(process.execPath, [
      BIN,
      ...tuneArgs,
      '--protocol',
      'full',
      '--json',
      '--quiet',
    ]);
    const tuned = join(work, 'bpr-tuned.json');
    writeFileSync(tuned, stdout);
    const { winner } = JSON.parse(stdout);
    const evalArgs = ['eval', '--data', data, '--format', 'sequences', '--json', '--quiet', '--tuned', tuned];
    const report = JSON.parse(
      (await run(process.execPath, [BIN, ...evalArgs, '--model', 'bpr', '--protocol', 'full'])).stdout,
    );
    expect(report.tuned).toBe(tuned);
    expect(report.params).toMatchObject(winner.options);
    expect(report.fitSeconds).toBeGreaterThanOrEqual(0);
    const refused = (extra: string[]) =>
      run(process.execPath, [BIN, ...evalArgs, ...extra]).catch((error) => error);
    const wrongModel = await refused(['--model', 'itemknn', '--protocol', 'full']);
    expect(wrongModel.code).toBe(2);
    expect(wrongModel.stderr).toContain(`--tuned ${tuned} holds bpr settings, not itemknn's`);
    const wrongProtocol = await refused(['--model', 'bpr', '--protocol', 'sasrec']);
    expect(wrongProtocol.code).toBe(2);
    expect(wrongProtocol.stderr).toContain('was tuned on the full protocol, not sasrec');
    const other = JSON.parse(stdout);
    other.dataName = 'elsewhere';
    writeFileSync(tuned, JSON.stringify(other));
    const wrongData = await refused(['--model', 'bpr', '--protocol', 'full']);
    expect(wrongData.code).toBe(2);
    expect(wrongData.stderr).toContain('was tuned on elsewhere');
  });
});
