import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrainingData } from '../../src/core/eval/model.ts';
import { ACTION_CODE } from '../../src/core/events.ts';
import { InteractionLogBuilder, userItemsFromLists } from '../../src/core/interactions.ts';
import { derivedRandom, Random } from '../../src/core/random.ts';
import {
  boardsFor,
  deriveBoards,
  hardOf,
  loadNeighborTable,
  type NeighborTable,
  neighborsOf,
  PinBoardGraph,
  sampleNeighbors,
  sampleNeighborsSync,
  saveNeighborTable,
  weightsOf,
} from '../../src/train/graph/index.ts';
import { hardRanks, rankVisits, VisitCounter, walkVisits } from '../../src/train/graph/random-walk.ts';

const HOUR = 3_600_000;

/** Users' positives with their times; every row is a save. */
function trainingData(
  numItems: number,
  users: [item: number, ts: number][][],
  hasTimestamps: boolean,
  extraRows: [user: number, item: number, action: number, ts: number][] = [],
): TrainingData {
  const log = new InteractionLogBuilder();
  users.forEach((rows, u) => {
    for (const [item, ts] of rows) log.push(u, item, ACTION_CODE.save, ts);
  });
  for (const [u, item, action, ts] of extraRows) log.push(u, item, action, ts);
  return {
    numUsers: users.length,
    numItems,
    train: userItemsFromLists(users.map((rows) => rows.map(([item]) => item))),
    log: log.build(),
    hasTimestamps,
  };
}

const lists = (boards: Int32Array[]) => boards.map((b) => Array.from(b));

describe('deriveBoards', () => {
  it('cuts a sequence into windows and drops boards of one item', () => {
    const seq = (n: number, offset = 0) =>
      Array.from({ length: n }, (_, k): [number, number] => [offset + k, k]);
    const data = trainingData(40, [seq(10), seq(9, 10), seq(1, 20), seq(2, 30)], false);
    expect(lists(deriveBoards(data, { window: 4 }))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
      [10, 11, 12, 13],
      [14, 15, 16, 17],
      // 18 alone: dropped; user 2's single item: dropped.
      [30, 31],
    ]);
    // Default window 8.
    expect(lists(deriveBoards(data))[0]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('starts a new board after a time gap longer than gapMs, only where the data has clock times', () => {
    const rows: [number, number][] = [
      [0, 0],
      [1, 10 * 60_000],
      [2, 10 * 60_000 + HOUR], // a gap of exactly one hour does not split
      [3, 3 * HOUR], // more than an hour later: split
      [4, 3 * HOUR + 1],
      [5, 9 * HOUR], // split, and alone before the next split: dropped
      [6, 20 * HOUR],
      [7, 20 * HOUR + 5],
    ];
    const timed = trainingData(8, [rows], true);
    expect(lists(deriveBoards(timed))).toEqual([
      [0, 1, 2],
      [3, 4],
      [6, 7],
    ]);
    expect(lists(deriveBoards(timed, { gapMs: 12 * HOUR }))).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
    expect(lists(deriveBoards(timed, { gapMs: 12 * HOUR, window: 3 }))).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6, 7],
    ]);
    // Without clock times, `ts` is a file position and never splits.
    expect(lists(deriveBoards(trainingData(8, [rows], false)))).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
  });

  it("takes an item's time from its first positive event and keeps repeats once", () => {
    // Item 2 was first saved at 0 h (also a hide and an impression later, which do not count); the train
    // list repeats item 1.
    const data = trainingData(
      5,
      [
        [
          [0, 5 * HOUR],
          [1, 5 * HOUR + 1],
          [1, 5 * HOUR + 2],
          [2, 5 * HOUR + 3],
        ],
      ],
      true,
      [
        [0, 2, ACTION_CODE.click, 5 * HOUR - 10],
        [0, 0, ACTION_CODE.impression, 0],
        [0, 1, ACTION_CODE.hide, 0],
      ],
    );
    expect(lists(deriveBoards(data))).toEqual([[0, 1, 2]]);
  });

  it('boardsFor prefers the catalog boards, cleaned, and derives boards only without them', () => {
    const data = trainingData(
      6,
      [
        [
          [0, 0],
          [1, 1],
          [2, 2],
        ],
      ],
      false,
    );
    expect(lists(boardsFor(data))).toEqual([[0, 1, 2]]);
    data.catalog = {
      titles: [],
      topics: [],
      boards: {
        ids: ['a', 'b', 'c'],
        items: [Int32Array.of(5, 4, 4, 9, -1), Int32Array.of(3), Int32Array.of(1, 3)],
      },
    };
    expect(lists(boardsFor(data))).toEqual([
      [5, 4],
      [1, 3],
    ]);
  });
});

describe('PinBoardGraph', () => {
  it('holds both directions of the pin–board edges', () => {
    const graph = PinBoardGraph.fromBoards(5, [Int32Array.of(0, 1, 1), Int32Array.of(1, 2, 4)]);
    expect(graph.numEdges).toBe(5);
    expect(Array.from(graph.pinsOf(0))).toEqual([0, 1]);
    expect(Array.from(graph.boardsOf(1))).toEqual([0, 1]);
    expect(Array.from(graph.boardsOf(3))).toEqual([]);
    const shared = graph.toShared();
    expect(shared.isShared).toBe(true);
    expect(shared.pinBoards).toEqual(graph.pinBoards);
    expect(() => PinBoardGraph.fromBoards(3, [Int32Array.of(0, 3)])).toThrow(/outside/);
  });
});

// A small graph: component {0..6} through five boards, pin 7 on no board, component {8, 9}.
const SMALL_BOARDS = [
  [0, 1, 2],
  [1, 3],
  [2, 3, 4],
  [4, 5],
  [0, 5, 6],
  [8, 9],
].map((b) => Int32Array.from(b));
const SMALL = PinBoardGraph.fromBoards(10, SMALL_BOARDS);

/**
 * The exact expected visit distribution of `walks` walks of `length` steps from `start`: ρ_1 = e_start;
 * the pin after step t is distributed as π_t = ρ_t P, with P the pin → board → pin transition matrix;
 * ρ_{t+1} = α e_start + (1 − α) π_t. Visits are Σ_t π_t, the start left out, normalised.
 */
function exactWeights(graph: PinBoardGraph, start: number, restart: number, length: number) {
  const n = graph.numPins;
  const step = (rho: Float64Array) => {
    const out = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      if (rho[p] === 0) continue;
      const boards = graph.boardsOf(p);
      for (const b of boards) {
        const pins = graph.pinsOf(b);
        for (const q of pins) out[q] += rho[p] / boards.length / pins.length;
      }
    }
    return out;
  };
  let rho = new Float64Array(n);
  rho[start] = 1;
  const visits = new Float64Array(n);
  for (let t = 0; t < length; t++) {
    const pi = step(rho);
    for (let q = 0; q < n; q++) visits[q] += pi[q];
    rho = pi.map((x) => (1 - restart) * x);
    rho[start] += restart;
  }
  const total = visits.reduce((a, x) => a + x, 0);
  visits[start] = 0;
  const kept = visits.reduce((a, x) => a + x, 0);
  return { weights: visits.map((x) => x / kept), nonStartShare: kept / total };
}

function asMap(table: NeighborTable, item: number): Map<number, number> {
  const neighbors = neighborsOf(table, item);
  const weights = weightsOf(table, item);
  return new Map(Array.from(neighbors, (j, k) => [j, weights[k]]));
}

describe('random walks with restart', () => {
  const walks = 200_000;
  const walkLength = 5;
  const restart = 0.5;
  const table = sampleNeighborsSync(SMALL, { seed: 11, walksPerItem: walks, walkLength, restart });

  it('converges to the exact personalised PageRank of the pin–board–pin walk', () => {
    for (let start = 0; start <= 6; start++) {
      const exact = exactWeights(SMALL, start, restart, walkLength);
      // Tolerance: walks are independent and a walk visits a pin 0..L times, so (Popoviciu) the visit count
      // summed over W walks has a standard deviation of at most (L/2)·√W; the weight divides it by the
      // non-start visits, ≈ L·W·share. So σ(weight) ≤ 1/(2·share·√W), and 5σ of that bound (≤ 0.009 here)
      // cannot fail by chance — the deviation measured is 0.002. The check still has teeth: restart 0.4
      // instead of 0.5 moves some exact weight by 0.019, skipping the board (uniform over the pin's
      // neighbours) by 0.10, counting the start pin by 0.37.
      const tolerance = 5 / (2 * exact.nonStartShare * Math.sqrt(walks));
      expect(tolerance).toBeLessThan(0.009);
      const sampled = asMap(table, start);
      for (let q = 0; q < 10; q++) {
        expect(Math.abs((sampled.get(q) ?? 0) - exact.weights[q])).toBeLessThan(tolerance);
        if (exact.weights[q] > 0) expect(sampled.has(q)).toBe(true);
      }
    }
  });

  it('keeps weights that sum to 1, never the start pin, nothing for pins off the graph', () => {
    for (let item = 0; item < 10; item++) {
      const neighbors = neighborsOf(table, item);
      expect(Array.from(neighbors)).not.toContain(item);
      if (item === 7) expect(neighbors.length).toBe(0);
      else expect(weightsOf(table, item).reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5);
    }
    expect(hardOf(table, 7).length).toBe(0);
    expect(Array.from(neighborsOf(table, 8))).toEqual([9]);
    expect(Array.from(weightsOf(table, 8))).toEqual([1]);
    // Components stay apart.
    for (let item = 0; item <= 6; item++)
      expect(Math.max(...neighborsOf(table, item))).toBeLessThanOrEqual(6);
  });

  it('ranks by visit count, ties by lower index, and truncates to the top T', () => {
    const counter = new VisitCounter(10);
    for (const [item, count] of [
      [5, 3],
      [2, 3],
      [9, 1],
      [1, 7],
      [0, 1],
    ]) {
      counter.count[item] = count;
      counter.touched[counter.length++] = item;
    }
    const ranked = rankVisits(counter);
    expect(Array.from(ranked.items)).toEqual([1, 2, 5, 0, 9]);
    expect(Array.from(ranked.counts)).toEqual([7, 3, 3, 1, 1]);

    // Short walks leave many tied counts: order must still be by weight, then index.
    const graph = randomGraph(400, 150, 3);
    const short = sampleNeighborsSync(graph, { seed: 5, walksPerItem: 3, walkLength: 4 });
    let ties = 0;
    for (let item = 0; item < 400; item++) {
      const n = neighborsOf(short, item);
      const w = weightsOf(short, item);
      for (let k = 1; k < n.length; k++) {
        expect(w[k]).toBeLessThanOrEqual(w[k - 1]);
        if (w[k] === w[k - 1]) {
          ties++;
          expect(n[k]).toBeGreaterThan(n[k - 1]);
        }
      }
    }
    expect(ties).toBeGreaterThan(100);

    // The top 3 of the same walks, renormalised.
    const top3 = sampleNeighborsSync(SMALL, { seed: 11, walksPerItem: walks, walkLength, restart, topT: 3 });
    for (let item = 0; item <= 6; item++) {
      const all = neighborsOf(table, item);
      const allWeights = weightsOf(table, item);
      expect(Array.from(neighborsOf(top3, item))).toEqual(Array.from(all.subarray(0, 3)));
      const head = allWeights[0] + allWeights[1] + allWeights[2];
      const w = weightsOf(top3, item);
      for (let k = 0; k < 3; k++) expect(w[k]).toBeCloseTo(allWeights[k] / head, 5);
    }
  });
});

function randomGraph(numItems: number, numBoards: number, seed: number): PinBoardGraph {
  const random = new Random(seed);
  const boards: Int32Array[] = [];
  for (let b = 0; b < numBoards; b++) {
    const size = 2 + random.int(8);
    // Popular items (low index) sit on more boards, as in real data.
    boards.push(Int32Array.from({ length: size }, () => Math.floor(numItems * random.next() ** 2)));
  }
  return PinBoardGraph.fromBoards(numItems, boards);
}

function expectSameTable(a: NeighborTable, b: NeighborTable): void {
  expect(a.numItems).toBe(b.numItems);
  expect(a.topT).toBe(b.topT);
  for (const key of ['offsets', 'neighbors', 'weights', 'hardOffsets', 'hard'] as const) {
    const x = a[key];
    const y = b[key];
    expect(x.constructor).toBe(y.constructor);
    expect(x.length).toBe(y.length);
    expect(
      Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
        Buffer.from(y.buffer, y.byteOffset, y.byteLength),
      ),
    ).toBe(true);
  }
}

describe('sampleNeighbors', () => {
  const graph = randomGraph(1500, 500, 1);
  const options = { walksPerItem: 10, walkLength: 20, topT: 10, hardFrom: 10, hardTo: 60, hardCount: 5 };

  it('is deterministic under a seed, bit for bit the same on 1 and 2 threads, and differs across seeds', async () => {
    const progress: number[] = [];
    const one = await sampleNeighbors(graph, { ...options, seed: 3, threads: 1 });
    const two = await sampleNeighbors(graph, {
      ...options,
      seed: 3,
      threads: 2,
      onProgress: (done, total) => {
        expect(total).toBe(1500);
        progress.push(done);
      },
    });
    expectSameTable(one, two);
    expect(progress.at(-1)).toBe(1500);
    expectSameTable(one, sampleNeighborsSync(graph, { ...options, seed: 3 }));
    const other = sampleNeighborsSync(graph, { ...options, seed: 4 });
    expect(Buffer.from(other.neighbors.buffer).equals(Buffer.from(one.neighbors.buffer))).toBe(false);
  });

  it('takes hard negatives from the mid ranks, never the top T or the item itself', () => {
    const table = sampleNeighborsSync(graph, { ...options, seed: 3 });
    const counter = new VisitCounter(graph.numPins);
    let withHard = 0;
    for (let item = 0; item < graph.numPins; item++) {
      const hard = Array.from(hardOf(table, item));
      const top = new Set(neighborsOf(table, item));
      expect(hard).not.toContain(item);
      for (const h of hard) expect(top.has(h)).toBe(false);
      if (hard.length > 0) withHard++;
      if (item % 25 !== 0) continue;
      // Recount this item's walks: the hard negatives sit at the promised ranks.
      walkVisits(graph, item, { restart: 0.5, ...options }, derivedRandom(3, item), counter);
      const ranked = rankVisits(counter);
      const ranks = hardRanks(ranked.items.length, options);
      expect(hard).toEqual(ranks.map((r) => ranked.items[r]));
      for (const r of ranks) {
        expect(r).toBeGreaterThanOrEqual(10);
        expect(r).toBeLessThan(60);
      }
    }
    expect(withHard).toBeGreaterThan(100);
  });

  it('spreads hard-negative ranks over the band and keeps them out of the top T', () => {
    expect(hardRanks(300, { topT: 50, hardFrom: 50, hardTo: 250, hardCount: 4 })).toEqual([
      50, 100, 150, 200,
    ]);
    expect(hardRanks(53, { topT: 50, hardFrom: 50, hardTo: 250, hardCount: 20 })).toEqual([50, 51, 52]);
    expect(hardRanks(50, { topT: 50, hardFrom: 50, hardTo: 250, hardCount: 20 })).toEqual([]);
    expect(hardRanks(300, { topT: 80, hardFrom: 50, hardTo: 100, hardCount: 2 })).toEqual([80, 90]);
  });
});

describe('neighbour table files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerec-graph-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips a table and its metadata, and rejects damaged files', () => {
    const table = sampleNeighborsSync(randomGraph(300, 100, 2), {
      seed: 9,
      walksPerItem: 5,
      walkLength: 20,
      topT: 8,
      hardFrom: 8,
      hardTo: 30,
      hardCount: 3,
    });
    const path = join(dir, 'neighbors.bin');
    saveNeighborTable(path, table, { seed: 9, note: 'ünïcode' });
    const loaded = loadNeighborTable(path);
    expectSameTable(loaded.table, table);
    expect(loaded.meta).toEqual({ seed: 9, note: 'ünïcode' });

    const bytes = readFileSync(path);
    writeFileSync(join(dir, 'short.bin'), bytes.subarray(0, bytes.length - 4));
    expect(() => loadNeighborTable(join(dir, 'short.bin'))).toThrow(/past the end/);
    const wrongMagic = Buffer.from(bytes);
    wrongMagic[0] = 0x58;
    writeFileSync(join(dir, 'magic.bin'), wrongMagic);
    expect(() => loadNeighborTable(join(dir, 'magic.bin'))).toThrow(/not a neighbour table/);
  });
});
