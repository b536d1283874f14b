import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/core/dataset.ts';
import { buildSplit } from '../../src/core/eval/split.ts';
import { actionName, type InteractionLog } from '../../src/core/interactions.ts';
import { DataFormatError } from '../../src/train/data/errors.ts';
import { loadEvents } from '../../src/train/data/events-file.ts';
import { loadLightGcn } from '../../src/train/data/lightgcn.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { actionForRating, loadMovieLens } from '../../src/train/data/movielens.ts';
import { loadNcf } from '../../src/train/data/ncf.ts';
import { loadSequences } from '../../src/train/data/sequences.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const fixture = (...parts: string[]) => join(FIXTURES, ...parts);

/** Scratch files for malformed inputs, removed after the file's tests. */
const scratch = mkdtempSync(join(tmpdir(), 'edgerec-loaders-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let scratchCount = 0;
/** Writes `files` (name → content) into a fresh folder and returns the folder. */
function scratchFolder(files: Record<string, string | Buffer>): string {
  const folder = join(scratch, `case-${scratchCount++}`);
  mkdirSync(folder);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(folder, name), content);
  return folder;
}

/** A log's rows as readable tuples `[userId, itemId, action, ts]`, in log order. */
function rows(log: InteractionLog, dataset: Dataset): [string, string, string, number][] {
  return Array.from({ length: log.length }, (_, r) => [
    dataset.users.idOf(log.user[r]),
    dataset.items.idOf(log.item[r]),
    actionName(log.action[r]),
    log.ts[r],
  ]);
}

async function expectDataFormatError(
  promise: Promise<unknown>,
  file: string,
  line: number | undefined,
  reason: RegExp | string,
): Promise<DataFormatError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataFormatError);
  const dataError = error as DataFormatError;
  expect(dataError.name).toBe('DataFormatError');
  expect(dataError.file).toBe(file);
  expect(dataError.line).toBe(line);
  if (typeof reason === 'string') expect(dataError.reason).toBe(reason);
  else expect(dataError.reason).toMatch(reason);
  expect(dataError.message).toBe(
    line === undefined ? `${file}: ${dataError.reason}` : `${file}:${line}: ${dataError.reason}`,
  );
  return dataError;
}

describe('actionForRating', () => {
  it('maps 4–5 to save, 3 to click, 1–2 to hide', () => {
    expect([1, 2, 3, 4, 5].map((r) => actionName(actionForRating(r)))).toEqual([
      'hide',
      'hide',
      'click',
      'save',
      'save',
    ]);
  });
});

describe('MovieLens 100K', () => {
  it('loads ratings as an impression plus the mapped action, with ids, times, titles and genres', async () => {
    const dataset = await loadDataset(fixture('ml-100k'), 'movielens');
    expect(dataset.format).toBe('movielens');
    expect(dataset.name).toBe('movielens:ml-100k');
    expect(dataset.hasTimestamps).toBe(true);
    // Dense indices in order of first appearance, both ways.
    expect(dataset.users.toArray()).toEqual(['196', '186', '22', '244']);
    expect(dataset.users.indexOf('22')).toBe(2);
    expect(dataset.users.idOf(3)).toBe('244');
    // Rated items first; u.item's unrated item 999 gets the next index (a cold item).
    expect(dataset.items.toArray()).toEqual(['242', '302', '377', '51', '999']);
    expect(dataset.items.indexOf('51')).toBe(3);
    expect(rows(dataset.log, dataset)).toEqual([
      ['196', '242', 'impression', 881250949000],
      ['196', '242', 'click', 881250949000], // rating 3
      ['186', '302', 'impression', 891717742000],
      ['186', '302', 'click', 891717742000], // rating 3
      ['22', '377', 'impression', 878887116000],
      ['22', '377', 'hide', 878887116000], // rating 1
      ['196', '302', 'impression', 881251000000],
      ['196', '302', 'save', 881251000000], // rating 5
      ['244', '51', 'impression', 880606923000],
      ['244', '51', 'hide', 880606923000], // rating 2
      ['22', '242', 'impression', 878887200000],
      ['22', '242', 'save', 878887200000], // rating 4
    ]);
    const catalog = dataset.catalog!;
    // u.item is Latin-1: "Café" is the single byte 0xE9, decoded to "é".
    expect(catalog.titles).toEqual([
      'Kolya (1996)',
      'L.A. Confidential (1997)',
      'Heavyweights (1994)',
      'Café Society (1995)',
      'Señor Frío (1990)',
    ]);
    expect(catalog.topics).toEqual([
      ['Comedy'],
      ['Crime', 'Film-Noir', 'Mystery', 'Thriller'],
      ["Children's", 'Comedy'],
      ['Comedy', 'Drama'],
      ['unknown'],
    ]);
    expect(catalog.boards).toBeUndefined();
  });

  it('loads the ratings file directly too, and goes without a catalog when u.item is absent', async () => {
    const direct = await loadMovieLens(fixture('ml-100k', 'u.data'));
    expect(direct.log.length).toBe(12);
    expect(direct.catalog?.titles[3]).toBe('Café Society (1995)');
    const folder = scratchFolder({ 'u.data': '1\t2\t5\t10\n' });
    const bare = await loadMovieLens(folder);
    expect(bare.catalog).toBeUndefined();
    expect(rows(bare.log, bare)).toEqual([
      ['1', '2', 'impression', 10000],
      ['1', '2', 'save', 10000],
    ]);
  });
});

describe('MovieLens 1M', () => {
  it('loads ratings.dat and movies.dat', async () => {
    const dataset = await loadDataset(fixture('ml-1m'), 'movielens');
    expect(dataset.name).toBe('movielens:ml-1m');
    expect(dataset.users.toArray()).toEqual(['1', '2']);
    expect(dataset.items.toArray()).toEqual(['1193', '661', '3408']);
    expect(rows(dataset.log, dataset)).toEqual([
      ['1', '1193', 'impression', 978300760000],
      ['1', '1193', 'save', 978300760000],
      ['1', '661', 'impression', 978302109000],
      ['1', '661', 'click', 978302109000],
      ['2', '1193', 'impression', 978298413000],
      ['2', '1193', 'save', 978298413000],
      ['2', '3408', 'impression', 978299000000],
      ['2', '3408', 'hide', 978299000000],
    ]);
    expect(dataset.catalog!.titles).toEqual([
      "One Flew Over the Cuckoo's Nest (1975)",
      'James and the Giant Peach (1996)',
      'Amélie (2001)',
    ]);
    expect(dataset.catalog!.topics).toEqual([
      ['Drama'],
      ['Animation', "Children's", 'Musical'],
      ['Comedy', 'Romance'],
    ]);
  });
});

describe('MovieLens 10M', () => {
  it('accepts half-star ratings: 4.5 save, 3.5 click, 0.5 and 2.5 hide', async () => {
    const folder = scratchFolder({
      'ratings.dat':
        '1::122::4.5::838985046\n1::185::3.5::838983525\n2::231::0.5::838983392\n2::292::2.5::838983421\n',
    });
    const dataset = await loadMovieLens(folder);
    expect(rows(dataset.log, dataset).filter((r) => r[2] !== 'impression')).toEqual([
      ['1', '122', 'save', 838985046000],
      ['1', '185', 'click', 838983525000],
      ['2', '231', 'hide', 838983392000],
      ['2', '292', 'hide', 838983421000],
    ]);
  });
});

describe('sequences (SASRec user item files)', () => {
  it('maps ids to dense indices and uses line numbers as time', async () => {
    const file = fixture('sequences', 'games.txt');
    const dataset = await loadDataset(file, 'sequences');
    expect(dataset.format).toBe('sequences');
    expect(dataset.name).toBe('sequences:games.txt');
    expect(dataset.hasTimestamps).toBe(false);
    expect(dataset.users.toArray()).toEqual(['1', '2', '3']);
    expect(dataset.items.toArray()).toEqual(['10', '11', '12', '13']);
    // Line 4 is blank: skipped, but line numbers keep counting. Tabs and repeated spaces separate too.
    expect(rows(dataset.log, dataset)).toEqual([
      ['1', '10', 'click', 1],
      ['1', '11', 'click', 2],
      ['1', '10', 'click', 3],
      ['2', '11', 'click', 5],
      ['2', '12', 'click', 6],
      ['3', '13', 'click', 7],
    ]);
    expect(dataset.catalog).toBeUndefined();
    expect(dataset.given).toBeUndefined();
  });
});

describe('LightGCN folders', () => {
  it('loads train.txt as the log and test.txt as the given test split', async () => {
    const dataset = await loadDataset(fixture('lightgcn'), 'lightgcn');
    expect(dataset.format).toBe('lightgcn');
    expect(dataset.name).toBe('lightgcn:lightgcn');
    expect(dataset.hasTimestamps).toBe(false);
    expect(dataset.users.toArray()).toEqual(['0', '1', '2']);
    expect(dataset.items.toArray()).toEqual(['0', '1', '2', '3', '4']);
    expect(rows(dataset.log, dataset)).toEqual([
      ['0', '0', 'click', 0],
      ['0', '1', 'click', 1],
      ['0', '2', 'click', 2],
      ['1', '2', 'click', 3],
      ['1', '3', 'click', 4],
      ['2', '4', 'click', 5],
    ]);
    // User 1's test line holds no items: it adds no rows. Test positions continue after training.
    expect(rows(dataset.given!.test, dataset)).toEqual([
      ['0', '3', 'click', 6],
      ['0', '4', 'click', 7],
      ['2', '0', 'click', 8],
    ]);
    expect(dataset.given!.negatives).toBeUndefined();
    // The given split feeds the protocols.
    const split = buildSplit(dataset, { protocol: 'full' });
    expect(Array.from(split.test.items)).toEqual([3, 4, 0]);
  });
});

describe('NCF files', () => {
  it('loads train, test and negatives', async () => {
    const dataset = await loadDataset(fixture('ncf', 'toy.train.rating'), 'ncf');
    expect(dataset.format).toBe('ncf');
    expect(dataset.name).toBe('ncf:toy');
    expect(dataset.hasTimestamps).toBe(true);
    expect(dataset.users.toArray()).toEqual(['0', '1']);
    // Items seen in train, then test (none new), then negatives (4, 5).
    expect(dataset.items.toArray()).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(rows(dataset.log, dataset)).toEqual([
      ['0', '0', 'click', 978300760000],
      ['0', '1', 'click', 978302109000],
      ['0', '2', 'click', 978301968000],
      ['1', '1', 'click', 978824291000],
      ['1', '3', 'click', 978824330000],
    ]);
    expect(rows(dataset.given!.test, dataset)).toEqual([
      ['0', '3', 'click', 978824351000],
      ['1', '0', 'click', 978824400000],
    ]);
    const negatives = dataset.given!.negatives!;
    expect([...negatives.keys()]).toEqual([0, 1]);
    const ids = (indices: Int32Array) => Array.from(indices, (i) => dataset.items.idOf(i));
    expect(ids(negatives.get(0)!)).toEqual(['4', '5']);
    expect(ids(negatives.get(1)!)).toEqual(['2', '5', '4']);
  });

  it('has no timestamps when the rating files have three columns', async () => {
    const folder = scratchFolder({
      'x.train.rating': '0\t0\t1\n0\t1\t1\n',
      'x.test.rating': '0\t2\t1\n',
      'x.test.negative': '(0,2)\t1\n',
    });
    const dataset = await loadNcf(join(folder, 'x.train.rating'));
    expect(dataset.hasTimestamps).toBe(false);
    expect(Array.from(dataset.log.ts)).toEqual([0, 0]);
  });
});

describe('events JSONL with catalog.json', () => {
  it('interns catalog items first, then event items, and keeps titles, topics and boards', async () => {
    const dataset = await loadDataset(fixture('events', 'events.jsonl'), 'events');
    expect(dataset.format).toBe('events');
    expect(dataset.name).toBe('events:events');
    expect(dataset.hasTimestamps).toBe(true);
    expect(dataset.users.toArray()).toEqual(['alice', 'bob']);
    expect(dataset.items.toArray()).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(rows(dataset.log, dataset)).toEqual([
      ['alice', 'p2', 'impression', 1700000000000],
      ['alice', 'p2', 'save', 1700000001000],
      ['bob', 'p4', 'click', 1700000002000],
      ['bob', 'p1', 'hide', 1700000003000],
    ]);
    const catalog = dataset.catalog!;
    // p3 has no title in the catalog; p4 is not in it at all.
    expect(catalog.titles).toEqual(['Café table', 'Hiking boots', undefined, undefined]);
    expect(catalog.topics).toEqual([['home', 'decor'], ['outdoors'], [], []]);
    expect(catalog.boards!.ids).toEqual(['b-home', 'b-out']);
    expect(catalog.boards!.items.map((members) => Array.from(members))).toEqual([[0, 2], [1]]);
  });

  it('goes without a catalog when catalog.json is absent', async () => {
    const folder = scratchFolder({
      'log.jsonl': '{"id":"a","userId":"u","itemId":"i","action":"closeup","ts":5}\n',
    });
    const dataset = await loadEvents(join(folder, 'log.jsonl'));
    expect(dataset.catalog).toBeUndefined();
    expect(rows(dataset.log, dataset)).toEqual([['u', 'i', 'closeup', 5]]);
  });
});

describe('malformed inputs throw DataFormatError with file and line', () => {
  it('wrong column count (u.data, ratings.dat, u.item, sequences)', async () => {
    const ml = scratchFolder({ 'u.data': '1\t2\t5\t10\n1\t3\t4\n' });
    await expectDataFormatError(
      loadMovieLens(ml),
      join(ml, 'u.data'),
      2,
      'expected 4 columns (user \\t item \\t rating \\t timestamp), found 3',
    );
    const ml1m = scratchFolder({ 'ratings.dat': '1::2::5::10\n\n1::2::5::10::9\n' });
    await expectDataFormatError(
      loadMovieLens(ml1m),
      join(ml1m, 'ratings.dat'),
      3,
      /^expected 4 columns .* found 5$/,
    );
    const item = scratchFolder({ 'u.data': '1\t2\t5\t10\n', 'u.item': '2|Short|line\n' });
    await expectDataFormatError(
      loadMovieLens(item),
      join(item, 'u.item'),
      1,
      /^expected 24 columns .* found 3$/,
    );
    const seq = scratchFolder({ 'seq.txt': '1 2\n1 2 3\n' });
    await expectDataFormatError(
      loadSequences(join(seq, 'seq.txt')),
      join(seq, 'seq.txt'),
      2,
      /^expected 2 columns/,
    );
  });

  it('non-numeric ids and out-of-range ratings', async () => {
    const ml = scratchFolder({ 'u.data': '1\t2\t5\t10\n\nx7\t2\t5\t10\n' });
    await expectDataFormatError(
      loadMovieLens(ml),
      join(ml, 'u.data'),
      3,
      'user id must be a non-negative integer, got "x7"',
    );
    const rating = scratchFolder({ 'u.data': '1\t2\t6\t10\n' });
    await expectDataFormatError(
      loadMovieLens(rating),
      join(rating, 'u.data'),
      1,
      'rating must be 0.5 to 5, got 6',
    );
    const zero = scratchFolder({ 'ratings.dat': '1::2::0::10\n' });
    await expectDataFormatError(
      loadMovieLens(zero),
      join(zero, 'ratings.dat'),
      1,
      'rating must be 0.5 to 5, got 0',
    );
    const word = scratchFolder({ 'u.data': '1\t2\tfour\t10\n' });
    await expectDataFormatError(
      loadMovieLens(word),
      join(word, 'u.data'),
      1,
      'rating must be a number, got "four"',
    );
    const seq = scratchFolder({ 'seq.txt': '1 2\n1 -3\n' });
    await expectDataFormatError(
      loadSequences(join(seq, 'seq.txt')),
      join(seq, 'seq.txt'),
      2,
      'item id must be a non-negative integer, got "-3"',
    );
    const gcn = scratchFolder({ 'train.txt': '0 1 2\n1 2 b3\n', 'test.txt': '0 3\n' });
    await expectDataFormatError(
      loadLightGcn(gcn),
      join(gcn, 'train.txt'),
      2,
      'item id (column 3) must be a non-negative integer, got "b3"',
    );
    const ncf = scratchFolder({
      'y.train.rating': '0\t1\t5\n',
      'y.test.rating': '0\t2\tfive\n',
      'y.test.negative': '(0,2)\t3\n',
    });
    await expectDataFormatError(
      loadNcf(join(ncf, 'y.train.rating')),
      join(ncf, 'y.test.rating'),
      1,
      'rating must be a number, got "five"',
    );
  });

  it('NCF negatives: a bad first column, an unknown user, no negatives', async () => {
    const files = (negative: string) =>
      scratchFolder({
        'z.train.rating': '0\t1\t5\n',
        'z.test.rating': '0\t2\t5\n',
        'z.test.negative': negative,
      });
    let folder = files('(0,2)\t3\n0,2\t4\n');
    await expectDataFormatError(
      loadNcf(join(folder, 'z.train.rating')),
      join(folder, 'z.test.negative'),
      2,
      'first column must be "(user,item)", got "0,2"',
    );
    folder = files('(9,2)\t3\n');
    await expectDataFormatError(
      loadNcf(join(folder, 'z.train.rating')),
      join(folder, 'z.test.negative'),
      1,
      'user 9 has no ratings',
    );
    folder = files('(0,2)\n');
    await expectDataFormatError(
      loadNcf(join(folder, 'z.train.rating')),
      join(folder, 'z.test.negative'),
      1,
      'no negative items on the line',
    );
  });

  it('empty files and files of blank lines', async () => {
    const empty = scratchFolder({ 'u.data': '' });
    await expectDataFormatError(loadMovieLens(empty), join(empty, 'u.data'), 1, 'file is empty');
    const blank = scratchFolder({ 'seq.txt': '\n  \n\n' });
    await expectDataFormatError(
      loadSequences(join(blank, 'seq.txt')),
      join(blank, 'seq.txt'),
      1,
      'file has no data lines',
    );
    const events = scratchFolder({ 'e.jsonl': '' });
    await expectDataFormatError(
      loadEvents(join(events, 'e.jsonl')),
      join(events, 'e.jsonl'),
      1,
      'file is empty',
    );
  });

  it('missing files and folders', async () => {
    const missing = join(scratch, 'nope', 'seq.txt');
    await expectDataFormatError(loadDataset(missing, 'sequences'), missing, undefined, 'file not found');
    const emptyFolder = scratchFolder({});
    await expectDataFormatError(
      loadMovieLens(emptyFolder),
      emptyFolder,
      undefined,
      'folder holds neither u.data nor ratings.dat',
    );
    await expectDataFormatError(
      loadLightGcn(join(emptyFolder, 'train.txt')),
      join(emptyFolder, 'train.txt'),
      undefined,
      /needs the folder/,
    );
    const noTest = scratchFolder({ 'train.txt': '0 1\n' });
    await expectDataFormatError(loadLightGcn(noTest), join(noTest, 'test.txt'), undefined, 'file not found');
    const ncf = scratchFolder({ 'w.train.rating': '0\t1\t5\n', 'w.test.negative': '(0,1)\t2\n' });
    await expectDataFormatError(
      loadNcf(join(ncf, 'w.train.rating')),
      join(ncf, 'w.test.rating'),
      undefined,
      /^file not found/,
    );
    await expectDataFormatError(
      loadNcf(join(ncf, 'w.csv')),
      join(ncf, 'w.csv'),
      undefined,
      /\.train\.rating/,
    );
  });

  it('a bad JSON line and an event with an unknown field', async () => {
    const valid = '{"id":"a","userId":"u","itemId":"i","action":"save","ts":5}';
    let folder = scratchFolder({ 'e.jsonl': `${valid}\n{"id":"b",\n` });
    await expectDataFormatError(
      loadEvents(join(folder, 'e.jsonl')),
      join(folder, 'e.jsonl'),
      2,
      /^not valid JSON \(/,
    );
    folder = scratchFolder({
      'e.jsonl': `${valid}\n\n{"id":"b","userId":"u","itemId":"i","action":"save","ts":6,"rating":5}\n`,
    });
    const error = await expectDataFormatError(
      loadEvents(join(folder, 'e.jsonl')),
      join(folder, 'e.jsonl'),
      3,
      'rating: is not a known event field',
    );
    expect(error.message).toBe(`${join(folder, 'e.jsonl')}:3: rating: is not a known event field`);
    folder = scratchFolder({ 'e.jsonl': '{"id":"b","userId":"u","itemId":"i","action":"pin","ts":-1}\n' });
    await expectDataFormatError(
      loadEvents(join(folder, 'e.jsonl')),
      join(folder, 'e.jsonl'),
      1,
      /^action: must be one of .*; ts: must be a non-negative number/,
    );
  });

  it('a bad catalog.json', async () => {
    const valid = '{"id":"a","userId":"u","itemId":"i","action":"save","ts":5}\n';
    let folder = scratchFolder({ 'e.jsonl': valid, 'catalog.json': '{"items": [' });
    await expectDataFormatError(
      loadEvents(join(folder, 'e.jsonl')),
      join(folder, 'catalog.json'),
      undefined,
      /^is not valid JSON/,
    );
    folder = scratchFolder({
      'e.jsonl': valid,
      'catalog.json': JSON.stringify({ items: [{ id: 'a' }], boards: [{ id: 'b', items: ['zz'] }] }),
    });
    await expectDataFormatError(
      loadEvents(join(folder, 'e.jsonl')),
      join(folder, 'catalog.json'),
      undefined,
      'boards[0] names item "zz", which is not in "items"',
    );
  });
});

describe('real data sets (skipped when ../shared/datasets is absent)', () => {
  const ml100k = join(import.meta.dirname, '..', '..', '..', 'shared', 'datasets', 'ml-100k', 'u.data');
  const games = join(
    import.meta.dirname,
    '..',
    '..',
    '..',
    'shared',
    'datasets',
    'amazon-games',
    'sequences.txt',
  );

  it.skipIf(!existsSync(ml100k))('loads MovieLens 100K: 943 users, 1,682 items, 200,000 rows', async () => {
    const dataset = await loadMovieLens(ml100k);
    expect(dataset.users.size).toBe(943);
    expect(dataset.items.size).toBe(1682);
    expect(dataset.log.length).toBe(200_000);
    expect(dataset.catalog?.titles[dataset.items.indexOf('1')!]).toBe('Toy Story (1995)');
  });

  it.skipIf(!existsSync(games))('loads Amazon Games: 31,013 users, 23,715 items, 287,107 rows', async () => {
    const dataset = await loadSequences(games);
    expect(dataset.users.size).toBe(31_013);
    expect(dataset.items.size).toBe(23_715);
    expect(dataset.log.length).toBe(287_107);
  });
});
