import { describe, expect, it } from 'vitest';
import type { ModelEntry } from '../../src/core/bundle/index.ts';
import { sequenceFeeds } from '../../src/core/feed/sequence-feeds.ts';
import { ACTION_TYPES, encoderInput, TIME_FEATURES, tableRows } from '../../src/core/sequence/index.ts';
import { rankerIo } from '../../src/train/ranker/export.ts';

const DIM = 3;
const entry = (sequence?: { length: number; width: number }) =>
  ({ kind: 'ranker', ...rankerIo(DIM, sequence) }) as unknown as ModelEntry;

describe("the engine's early-fusion ranker feeds", () => {
  const table = Float32Array.from({ length: 10 * DIM }, (_, i) => i / 10);
  const window = { items: [4, 7, 2], actions: [1, 3, 2], ts: [1e12, 1e12 + 6e5, 1e12 + 9e5] };

  it('feed the encoder layout of the newest actions once (1 user), named as the graph inputs', () => {
    const feeds = sequenceFeeds(entry({ length: 4, width: 8 }), window, 2, DIM, tableRows(table, DIM));
    const one = encoderInput([window], 4, DIM, tableRows(table, DIM));
    expect(Object.keys(feeds)).toEqual(['seq_items', 'seq_actions', 'seq_time', 'seq_mask']);
    expect(feeds.seq_items.dims).toEqual([1, 4, DIM]);
    expect(feeds.seq_actions.dims).toEqual([1, 4, ACTION_TYPES]);
    expect(feeds.seq_time.dims).toEqual([1, 4, TIME_FEATURES]);
    expect(feeds.seq_mask.dims).toEqual([1, 4]);
    expect(Array.from(feeds.seq_mask.data)).toEqual([0, 1, 1, 1]);
    // Left padding, then item 4's row: what training's encoderInput lays out.
    expect(Array.from(feeds.seq_items.data.subarray(DIM, 2 * DIM))).toEqual(
      Array.from(table.subarray(12, 15)),
    );
    expect(Array.from(feeds.seq_items.data)).toEqual(Array.from(one.items));
    expect(Array.from(feeds.seq_time.data)).toEqual(Array.from(one.time));
  });

  it('repeat them once per candidate for a graph that declares them per candidate (batch)', () => {
    const perCandidate = entry({ length: 4, width: 8 });
    for (const input of perCandidate.inputs) if (input.name.startsWith('seq_')) input.shape[0] = 'batch';
    const feeds = sequenceFeeds(perCandidate, window, 2, DIM, tableRows(table, DIM));
    const one = encoderInput([window], 4, DIM, tableRows(table, DIM));
    expect(feeds.seq_items.dims).toEqual([2, 4, DIM]);
    expect(feeds.seq_actions.dims).toEqual([2, 4, ACTION_TYPES]);
    expect(Array.from(feeds.seq_mask.data)).toEqual([0, 1, 1, 1, 0, 1, 1, 1]);
    for (const [name, values] of [
      ['seq_items', one.items],
      ['seq_time', one.time],
    ] as const) {
      expect(Array.from(feeds[name].data.subarray(0, values.length))).toEqual(Array.from(values));
      expect(Array.from(feeds[name].data.subarray(values.length))).toEqual(Array.from(values));
    }
  });

  it('add nothing for a late-fused ranker', () => {
    expect(sequenceFeeds(entry(), window, 2, DIM, tableRows(table, DIM))).toEqual({});
  });
});
