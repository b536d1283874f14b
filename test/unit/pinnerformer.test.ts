import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainingData } from '../../src/core/eval/harness.ts';
import { buildSplit } from '../../src/core/eval/split.ts';
import { Random } from '../../src/core/random.ts';
import { generateSynthetic } from '../../src/train/data/synthetic/index.ts';
import {
  bucketExamples,
  buildBatch,
  type Example,
  pickTarget,
} from '../../src/train/pinnerformer/batches.ts';
import { DEFAULT_PINNERFORMER_OPTIONS, TIME_FEATURES } from '../../src/train/pinnerformer/config.ts';
import { logQ, targetFrequencies } from '../../src/train/pinnerformer/log-q.ts';
import { PinnerFormerModel } from '../../src/train/pinnerformer/model.ts';
import {
  type ActionSequence,
  sequenceFromItems,
  timeFeatures,
} from '../../src/train/pinnerformer/sequences.ts';
import { trainPinnerFormer } from '../../src/train/pinnerformer/trainer.ts';
import { initTraining, tf } from '../../src/train/tf/backend.ts';

beforeAll(async () => {
  await initTraining();
});

const small = { ...DEFAULT_PINNERFORMER_OPTIONS, dim: 16, heads: 2, layers: 2, maxLength: 6, dropout: 0 };

function sequence(items: number[], actions?: number[], ts?: number[]): ActionSequence {
  return {
    items: Int32Array.from(items),
    actions: Uint8Array.from(actions ?? items.map(() => 1)),
    ts: Float64Array.from(ts ?? items.map(() => Number.NaN)),
    positive: Uint8Array.from((actions ?? items.map(() => 1)).map((a) => (a >= 1 && a <= 3 ? 1 : 0))),
  };
}

function encodeAll(model: PinnerFormerModel, sequences: ActionSequence[]): number[][] {
  const examples: Example[] = sequences.map((s, user) => ({ user, start: 0, end: s.items.length }));
  const batch = buildBatch(sequences, examples);
  const rows = tf.tensor2d(model.itemIn.gather(batch.items), [batch.items.length, small.dim]);
  const out = model.encode(batch, rows);
  const values = Array.from(out.dataSync());
  tf.dispose([rows, out]);
  const perPosition: number[][] = [];
  for (let i = 0; i < batch.items.length; i++)
    perPosition.push(values.slice(i * small.dim, (i + 1) * small.dim));
  return perPosition;
}

describe('PinnerFormer encoder', () => {
  it('is causal: no position sees a later action, and padding changes nothing', () => {
    const model = new PinnerFormerModel(20, small, new Random(1));
    const base = encodeAll(model, [sequence([3, 5, 7, 9, 11, 13])]);
    const changedLast = encodeAll(model, [sequence([3, 5, 7, 9, 11, 2], [1, 1, 1, 1, 1, 3])]);
    for (let t = 0; t < 5; t++) expect(changedLast[t]).toEqual(base[t]);
    expect(changedLast[5]).not.toEqual(base[5]);
    const changedThird = encodeAll(model, [sequence([3, 5, 19, 9, 11, 13])]);
    for (let t = 0; t < 2; t++) expect(changedThird[t]).toEqual(base[t]);
    for (let t = 2; t < 6; t++) expect(changedThird[t]).not.toEqual(base[t]);
    // Left padding: a 3-action history padded in a batch with a 6-action one encodes like it does alone.
    const alone = encodeAll(model, [sequence([4, 6, 8])]);
    const padded = encodeAll(model, [sequence([4, 6, 8]), sequence([3, 5, 7, 9, 11, 13])]);
    for (let t = 0; t < 3; t++) {
      for (let d = 0; d < small.dim; d++) expect(padded[3 + t][d]).toBeCloseTo(alone[t][d], 5);
    }
  });

  it('outputs unit-norm user embeddings and a unit-norm item table', () => {
    const model = new PinnerFormerModel(12, small, new Random(2));
    for (const row of encodeAll(model, [sequence([1, 2, 3])])) {
      expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    }
    const table = model.itemTable();
    for (let i = 0; i < 12; i++) expect(Math.hypot(...table.subarray(i * 16, i * 16 + 16))).toBeCloseTo(1, 5);
  });
});

describe('logQ correction', () => {
  it('smooths target counts into frequencies that sum to one', () => {
    const f = targetFrequencies(Float64Array.from([3, 1, 0, 0]));
    // (count + 1) / (4 + 4)
    expect(Array.from(f)).toEqual([0.5, 0.25, 0.125, 0.125]);
  });

  it('is the log of the mixture proposal probability', () => {
    // 2 in-batch draws with p = 0.5 and 2 uniform draws over 4 items: q = (2·0.5 + 2/4) / 4 = 0.375.
    expect(logQ(0.5, 2, 2, 4)).toBeCloseTo(Math.log(0.375), 12);
    // Uniform only: q = 1/numItems for every item, a constant shift.
    expect(logQ(0.9, 0, 10, 100)).toBeCloseTo(Math.log(0.01), 12);
    // In-batch only: q is the item's frequency, so popular items are discounted more.
    expect(logQ(0.2, 5, 0, 100)).toBeCloseTo(Math.log(0.2), 12);
    expect(logQ(0.2, 5, 0, 100)).toBeGreaterThan(logQ(0.01, 5, 0, 100));
  });
});

describe('dense all-action targets', () => {
  const rule = { window: 3, windowDays: 1 };

  it('picks a positive within the next `window` actions, never the same item, never a hide', () => {
    // actions: click, hide, save, click(same item as t=0), impression-free
    const s = sequence([7, 8, 9, 7, 10], [1, 4, 3, 1, 1]);
    const seen = new Set<number>();
    const random = new Random(5);
    for (let i = 0; i < 200; i++) seen.add(pickTarget(s, 0, rule, random));
    // t = 0 → window t+1..t+3 = items 8 (hide: excluded), 9 (save), 7 (same item: excluded)
    expect([...seen]).toEqual([9]);
    expect(pickTarget(s, 4, rule, random)).toBe(-1);
  });

  it('stops at windowDays with timestamps', () => {
    const day = 86_400_000;
    const s = sequence([1, 2, 3], [1, 1, 1], [0, 2 * day, 2.5 * day]);
    expect(pickTarget(s, 0, rule, new Random(1))).toBe(-1);
    expect(pickTarget(s, 1, rule, new Random(1))).toBe(3);
  });
});

describe('length-bucketed batches', () => {
  it('covers every example once and keeps each batch within the token budget', () => {
    const random = new Random(3);
    const examples: Example[] = Array.from({ length: 300 }, (_, user) => ({
      user,
      start: 0,
      end: 1 + random.int(50),
    }));
    const batches = bucketExamples(examples, 256, new Random(4));
    expect(
      batches
        .flat()
        .map((e) => e.user)
        .sort((a, b) => a - b),
    ).toEqual(examples.map((e) => e.user));
    for (const batch of batches) {
      const longest = Math.max(...batch.map((e) => e.end - e.start));
      expect(longest * batch.length <= 256 || batch.length === 1).toBe(true);
    }
  });

  it('right-aligns sequences so the newest action is the last column', () => {
    const sequences = [sequence([1, 2]), sequence([3, 4, 5, 6])];
    const batch = buildBatch(sequences, [
      { user: 0, start: 0, end: 2 },
      { user: 1, start: 0, end: 4 },
    ]);
    expect(batch.length).toBe(4);
    expect(Array.from(batch.items)).toEqual([0, 0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(batch.valid)).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(batch.targets)).toEqual(new Array(8).fill(-1));
  });
});

describe('time features', () => {
  it('are log hours since the latest, log hours since the previous, and sin/cos of the day and week', () => {
    const hour = 3_600_000;
    const ts = Float64Array.from([0, 6 * hour, 30 * hour]);
    const out = new Float32Array(3 * TIME_FEATURES);
    timeFeatures(ts, 0, 3, out, 0);
    const at = (t: number) => Array.from(out.subarray(t * TIME_FEATURES, (t + 1) * TIME_FEATURES));
    expect(at(0)[0]).toBeCloseTo(Math.log1p(30), 5);
    expect(at(0)[1]).toBe(0);
    expect(at(1)[0]).toBeCloseTo(Math.log1p(24), 5);
    expect(at(1)[1]).toBeCloseTo(Math.log1p(6), 5);
    // 30 h is 6 h into a day: sin(2π·6/24) = 1, cos = 0.
    expect(at(2)[2]).toBeCloseTo(1, 5);
    expect(at(2)[3]).toBeCloseTo(0, 5);
    const none = new Float32Array(TIME_FEATURES).fill(7);
    timeFeatures(sequenceFromItems(Int32Array.from([1])).ts, 0, 1, none, 0);
    expect(Array.from(none)).toEqual(new Array(TIME_FEATURES).fill(0));
  });
});

describe('training', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgerec-pf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const dataset = generateSynthetic({ users: 120, items: 200, events: 6000, boards: 20, seed: 4 });
  const data = trainingData(buildSplit(dataset, { protocol: 'sasrec' }));
  const options = { ...small, maxEpochs: 2, tokensPerBatch: 256, randomNegatives: 16, dropout: 0.2, seed: 9 };

  it('lowers the loss', async () => {
    const result = await trainPinnerFormer(data, { ...options, maxEpochs: 4, learningRate: 0.01 });
    expect(result.history).toHaveLength(4);
    expect(result.history[3].loss).toBeLessThan(result.history[0].loss);
  });

  it('resumes a killed run from its checkpoint to a bit-identical result', async () => {
    const straight = await trainPinnerFormer(data, options);
    const checkpointDir = join(dir, 'ckpt');
    const killed = await trainPinnerFormer(data, options, { checkpointDir, stopAfterSteps: 5 });
    expect(killed.interrupted).toBe(true);
    const resumed = await trainPinnerFormer(data, options, { checkpointDir });
    expect(resumed.interrupted).toBe(false);
    expect(resumed.steps).toBe(straight.steps);
    expect(resumed.model.itemIn.values).toEqual(straight.model.itemIn.values);
    expect(resumed.model.itemOut.values).toEqual(straight.model.itemOut.values);
    const a = straight.model.params.export();
    const b = resumed.model.params.export();
    for (const name of Object.keys(a)) expect(b[name].data).toEqual(a[name].data);
  });
});
