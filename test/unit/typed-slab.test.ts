import { describe, expect, it } from 'vitest';
import type { DecodedItemTable } from '../../src/core/bundle/index.ts';
import { ACTION_CODE } from '../../src/core/events.ts';
import { type FeedModel, type FeedRunners, recommendFeed } from '../../src/core/feed/index.ts';
import { Random } from '../../src/core/random.ts';
import { DEFAULT_UTILITY_WEIGHTS } from '../../src/core/ranking/index.ts';
import { slabCopyI32, slabF32, slabF64, slabU8 } from '../../src/core/typed-slab.ts';

describe('typed slab views', () => {
  it('hands out zeroed, aligned, disjoint views; a large array gets its own buffer', () => {
    const a = slabF32(5);
    const b = slabF64(3);
    const c = slabU8(7);
    for (const view of [a, b, c]) {
      expect([...view].every((x) => x === 0)).toBe(true);
      expect(view.byteOffset % 16).toBe(0);
    }
    a.fill(1);
    b.fill(2);
    c.fill(3);
    // Writing each filled only its own bytes.
    expect([...a]).toEqual([1, 1, 1, 1, 1]);
    expect([...b]).toEqual([2, 2, 2]);
    expect([...c]).toEqual([3, 3, 3, 3, 3, 3, 3]);
    if (a.buffer === b.buffer) expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + a.byteLength);
    const large = slabF32(1 << 17); // 512 KiB: more than a slab would share
    expect(large.byteOffset).toBe(0);
    expect(large.buffer.byteLength).toBe(large.byteLength);
    expect([...slabCopyI32([4, -5, 6])]).toEqual([4, -5, 6]);
  });

  it('never hands the same bytes out twice, across slabs', () => {
    const views = Array.from({ length: 3000 }, (_, i) => slabF32(64).fill(i));
    // 3000 × 256 B spans two slabs at least; every view still holds what it was given.
    expect(new Set(views.map((v) => v.buffer)).size).toBeGreaterThan(1);
    expect(views.every((v, i) => v.every((x) => x === i))).toBe(true);
  });
});

/**
 * Counts the ArrayBuffers typed arrays create while `run` runs (views over an existing buffer are not
 * counted: they free nothing when they die). The count the recommend path's p99 depends on: V8 sweeps every
 * dead one after a scavenge, and ~70 a request made 35–140 ms sweeps in the engine worker.
 */
async function countBuffers(run: () => Promise<void>): Promise<number> {
  const names = [
    'Float32Array',
    'Float64Array',
    'Int32Array',
    'Uint32Array',
    'Uint8Array',
    'Int8Array',
  ] as const;
  const global = globalThis as unknown as Record<string, unknown>;
  const saved = names.map((name) => [name, global[name]] as const);
  const methods: [object, string, unknown][] = [];
  let made = 0;
  const counted = (value: ArrayBufferView) => {
    if (value.byteOffset === 0 && value.byteLength === value.buffer.byteLength && value.byteLength > 64)
      made++;
    return value;
  };
  for (const [name, original] of saved) {
    const ctor = original as new (...args: unknown[]) => ArrayBufferView;
    const proxy: unknown = new Proxy(ctor, {
      construct(target, args, newTarget) {
        const value = Reflect.construct(target, args, newTarget === proxy ? target : newTarget);
        const source = args[0];
        return source instanceof ArrayBuffer || source instanceof SharedArrayBuffer ? value : counted(value);
      },
    });
    global[name] = proxy;
    const prototype = ctor.prototype as Record<string, (...args: unknown[]) => ArrayBufferView>;
    for (const method of ['slice', 'map', 'filter']) {
      const f = prototype[method];
      methods.push([prototype, method, f]);
      prototype[method] = function (this: unknown, ...args: unknown[]) {
        return counted(f.apply(this, args));
      };
    }
  }
  try {
    await run();
  } finally {
    for (const [name, original] of saved) global[name] = original;
    for (const [prototype, method, f] of methods) (prototype as Record<string, unknown>)[method] = f;
  }
  return made;
}

describe('recommendFeed allocations', () => {
  it('makes a slab now and then, not dozens of ArrayBuffers a request', async () => {
    // 20,000 items × 64 dims, 200 candidates, six engaged pins (PinnerSage interests on): the engine's shape.
    const count = 20_000;
    const dim = 64;
    const random = new Random(7);
    const values = Float32Array.from({ length: count * dim }, () => random.next() - 0.5);
    const table: DecodedItemTable = { dtype: 'f32', count, dim, values };
    const model: FeedModel = {
      table,
      catalog: {
        titles: Array.from({ length: count }, (_, i) => `pin ${i}`),
        topics: Array.from({ length: count }, (_, i) => [`topic ${i % 9}`]),
      },
      stats: {
        positives: Array.from({ length: count }, (_, i) => i % 13),
        impressions: Array.from({ length: count }, (_, i) => 20 + (i % 7)),
        firstSeen: Array.from({ length: count }, () => null),
      },
      popular: Int32Array.from({ length: count }, (_, i) => i),
    };
    // Runners that allocate nothing themselves (their buffers are made before counting): what is counted
    // is the feed's own work — blending, exclusions, interests, features, utilities, MMR, reasons.
    const short = Float32Array.from({ length: dim }, () => random.next());
    const lists = Array.from({ length: 4 }, (_, q) =>
      Int32Array.from({ length: 200 }, (_, i) => 100 + q * 7 + i * 11),
    );
    const probs = Float32Array.from({ length: 200 * 4 }, () => random.next());
    const runners: FeedRunners = {
      encode: async () => short,
      retrieve: async (queries) => lists.slice(0, queries.length),
      rank: async () => probs,
    };
    const { click, save, closeup } = ACTION_CODE;
    const actions = Array.from({ length: 12 }, (_, i) => ({
      item: 17 * (i % 6) + 3,
      action: [click, save, closeup][i % 3],
      ts: 1_000 * i,
    }));
    const request = {
      k: 20,
      actions,
      hidden: [5, 9],
      longTerm: Float32Array.from({ length: dim }, () => random.next()),
      longTermWeight: 0.5,
      counts: { click: 4, closeup: 4, save: 4, hide: 0 },
      now: 20_000,
      weights: { ...DEFAULT_UTILITY_WEIGHTS },
      diversity: 0.8,
      candidates: 200,
      interests: 'multi' as const,
    };
    const first = await recommendFeed(model, runners, request);
    expect(first.interests.length).toBeGreaterThan(1);
    expect(first.items).toHaveLength(20);
    const requests = 50;
    const made = await countBuffers(async () => {
      for (let i = 0; i < requests; i++) await recommendFeed(model, runners, request);
    });
    // About 0.25 MB of scratch a request in 0.5 MB slabs; the old code made ~40 buffers a request here.
    expect(made).toBeLessThanOrEqual(requests / 2 + 1);
    const again = await recommendFeed(model, runners, request);
    expect(again.items).toEqual(first.items);
  });

  it('hands the ranker no leftovers when its input arrays are reused between requests', async () => {
    // Two pins in two dimensions; the "ranker" records the user_long it was given.
    const table: DecodedItemTable = {
      dtype: 'f32',
      count: 3,
      dim: 2,
      values: Float32Array.from([1, 0, 0, 1, 1, 1]),
    };
    const model: FeedModel = {
      table,
      catalog: { titles: ['a', 'b', 'c'], topics: [[], [], []] },
      stats: { positives: [0, 0, 0], impressions: [0, 0, 0], firstSeen: [null, null, null] },
      popular: Int32Array.from([0, 1, 2]),
    };
    const seen: number[][] = [];
    const runners: FeedRunners = {
      encode: async () => Float32Array.from([0, 1]),
      retrieve: async () => [Int32Array.from([0, 1, 2])],
      rank: async ({ size, userLong }) => {
        seen.push([...userLong]);
        return new Float32Array(size * 4);
      },
    };
    // One set of arrays for every request, as the engine's FeedScratch hands out.
    const arrays = new Map<string, Float32Array>();
    const reuse = (name: string, length: number) => {
      const array = arrays.get(name)?.length === length ? arrays.get(name)! : new Float32Array(length);
      arrays.set(name, array);
      return array;
    };
    const base = {
      k: 2,
      actions: [{ item: 1, action: ACTION_CODE.click, ts: 0 }],
      hidden: [],
      longTermWeight: 0.5,
      counts: { click: 1, closeup: 0, save: 0, hide: 0 },
      now: 1,
      weights: { ...DEFAULT_UTILITY_WEIGHTS },
      diversity: 1,
      candidates: 3,
      includeSeen: true,
      interests: 'single' as const,
    };
    await recommendFeed(
      model,
      runners,
      { ...base, longTerm: Float32Array.from([0.6, 0.8]) },
      undefined,
      reuse,
    );
    await recommendFeed(model, runners, base, undefined, reuse);
    expect(seen[0]).toEqual([0.6, 0.8, 0.6, 0.8, 0.6, 0.8].map(Math.fround));
    // No long-term embedding the second time: zeros, not the first request's rows.
    expect(seen[1]).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
