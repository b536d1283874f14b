import * as tfCpu from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACTION_CODE } from '../../src/core/events.ts';
import {
  DEFAULT_LEARNING_OPTIONS,
  type LearningEvent,
  type LearningExamples,
  learnEmbedding,
  learnFromEvents,
  learningExamples,
  softmaxPart,
} from '../../src/core/learning/index.ts';
import { initTraining, tf } from '../../src/train/tf/backend.ts';
import { PIN_ROWS, pinTable } from '../shared/pin-table.ts';

const DAY = 86_400_000;
const { impression, click, save, hide, closeup } = ACTION_CODE;
const ev = (item: number, action: number, ts: number): LearningEvent => ({ item, action, ts });

// A catalog of eight pins in three dimensions.
const rows = PIN_ROWS.map((row) => [...row]);
const table = pinTable();

const events = [
  ev(0, impression, 0),
  ev(0, click, 1),
  ev(2, impression, 2),
  ev(3, impression, 3),
  ev(3, hide, 4),
  ev(5, impression, DAY),
  ev(1, save, DAY),
  ev(1, closeup, DAY),
  ev(4, click, DAY - 10),
  ev(4, hide, DAY - 5),
];

describe('learning examples', () => {
  it('positives time-decayed, hides and ignored impressions as negatives, sampled ones log-Q corrected', () => {
    const examples = learningExamples(events, 8, {
      ...DEFAULT_LEARNING_OPTIONS,
      halfLifeDays: 1,
      hideWeight: 4,
      implicitWeight: 2,
      sampled: 4,
      seed: 3,
    })!;
    // Positives in time order: click 0 (age 1 day − 1 ms), then save and close-up of 1 (age 0); pin 4 was hidden after its click.
    expect(examples.positives).toBe(3);
    expect(Array.from(examples.items.subarray(0, 3))).toEqual([0, 1, 1]);
    const w0 = 2 ** (-(DAY - 1) / DAY);
    const total = w0 + 2;
    expect(Array.from(examples.positiveWeights)).toEqual(
      [w0 / total, 1 / total, 1 / total].map((x) => Math.fround(x)),
    );
    // Hides (3, 4) by item, then ignored impressions newest first (5, 2; 0 was engaged, 3 already in).
    expect(Array.from(examples.items.subarray(3, 7))).toEqual([3, 4, 5, 2]);
    expect(Array.from(examples.negativeLogWeights.subarray(0, 4))).toEqual(
      [Math.log(4), Math.log(4), Math.log(2), Math.log(2)].map((x) => Math.fround(x)),
    );
    // Four sampled pins, never a positive, each standing for 8 / 4 pins.
    const sampled = Array.from(examples.items.subarray(7));
    expect(sampled).toHaveLength(4);
    for (const item of sampled) expect([0, 1]).not.toContain(item);
    expect(Array.from(examples.negativeLogWeights.subarray(4))).toEqual(
      Array(4).fill(Math.fround(Math.log(2))),
    );
    expect(examples.counts).toEqual({ positives: 3, hides: 2, implicit: 2, sampled: 4 });
    // The same events (in any order) give the same draw.
    const again = learningExamples([...events].reverse(), 8, {
      ...DEFAULT_LEARNING_OPTIONS,
      halfLifeDays: 1,
      hideWeight: 4,
      implicitWeight: 2,
      sampled: 4,
      seed: 3,
    })!;
    expect(Array.from(again.items)).toEqual(Array.from(examples.items));
  });

  it('no positive: nothing to learn; maxEvents keeps the newest', () => {
    expect(
      learningExamples([ev(1, impression, 0), ev(2, hide, 1)], 8, DEFAULT_LEARNING_OPTIONS),
    ).toBeUndefined();
    const newest = learningExamples(events, 8, { ...DEFAULT_LEARNING_OPTIONS, maxEvents: 3, sampled: 0 })!;
    // The newest three, all at one time (ties by item, then action): close-up and save of 1, impression of 5.
    expect(Array.from(newest.items)).toEqual([1, 1, 5]);
  });
});

/** The same proximal gradient descent in float64 plain JS, from the loss's gradient worked out by hand. */
function referenceDescent(
  examples: LearningExamples,
  x: number[][],
  prior: number[],
  o: { learningRate: number; steps: number; l2: number; scale: number },
): number[] {
  const u = [...prior];
  const dim = prior.length;
  const p = examples.positives;
  const dot = (a: number[], b: number[]) => a.reduce((s, v, d) => s + v * b[d], 0);
  for (let step = 0; step < o.steps; step++) {
    const z = x.map((row) => o.scale * dot(row, u));
    const grad = u.map(() => 0);
    for (let i = 0; i < p; i++) {
      // softmax over [positive i, negatives with their log weights]
      const t = [z[i], ...z.slice(p).map((v, n) => v + examples.negativeLogWeights[n])];
      const m = Math.max(...t);
      const e = t.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < dim; d++) {
        let g = (e[0] / sum - 1) * x[i][d];
        for (let n = 0; n < x.length - p; n++) g += (e[n + 1] / sum) * x[p + n][d];
        grad[d] += examples.positiveWeights[i] * o.scale * g;
      }
    }
    // The proximal step of the pull λ‖u − prior‖².
    const k = 2 * o.learningRate * o.l2;
    for (let d = 0; d < dim; d++) u[d] = (u[d] - o.learningRate * grad[d] + k * prior[d]) / (1 + k);
  }
  const norm = Math.hypot(...u);
  return u.map((v) => v / norm);
}

describe('learning step (tfjs)', () => {
  beforeAll(async () => {
    await initTraining();
  });
  const options = {
    ...DEFAULT_LEARNING_OPTIONS,
    sampled: 4,
    steps: 25,
    learningRate: 0.2,
    l2: 0.05,
    scale: 3,
  };
  const prior = Float32Array.from([0, 0.6, 0.8]);

  it('takes the softmax gradient in closed form equal to tfjs autodiff of the loss', () => {
    const examples = learningExamples(events, 8, options)!;
    const x = tf.tensor2d(Float32Array.from(Array.from(examples.items, (i) => rows[i]).flat()), [
      examples.items.length,
      3,
    ]);
    const w = tf.tensor1d(examples.positiveWeights);
    const c = tf.tensor1d(examples.negativeLogWeights);
    const { softmax, gradient } = softmaxPart(tf, x, w, c, examples.positives, options.scale);
    for (const point of [
      [0, 0.6, 0.8],
      [1, -2, 0.5],
      [-0.3, 0.1, 2],
    ]) {
      const u = tf.tensor1d(point);
      const closed = gradient(u).arraySync();
      const auto = tf
        .grad((v) => softmax(v as never))(u)
        .arraySync() as number[];
      for (let d = 0; d < 3; d++) expect(closed[d]).toBeCloseTo(auto[d], 5);
      expect(auto.some((g) => Math.abs(g) > 1e-3)).toBe(true);
    }
  });

  it('equals the hand-derived gradient descent (float64) on wasm, and on cpu', async () => {
    const examples = learningExamples(events, 8, options)!;
    const x = Array.from(examples.items, (i) => rows[i]);
    const expected = referenceDescent(examples, x, Array.from(prior), options);
    const flat = Float32Array.from(x.flat());
    const wasm = await learnEmbedding(tf, examples, flat, prior, 3, options);
    for (let d = 0; d < 3; d++) expect(wasm.vector[d]).toBeCloseTo(expected[d], 5);
    expect(wasm.loss).toBeLessThan(wasm.initialLoss);
    expect(wasm.steps).toBe(25);
    await tfCpu.setBackend('cpu');
    try {
      const cpu = await learnEmbedding(tfCpu, examples, flat, prior, 3, options);
      for (let d = 0; d < 3; d++) expect(cpu.vector[d]).toBeCloseTo(expected[d], 5);
    } finally {
      await tfCpu.setBackend('wasm');
    }
  });

  it('moves toward the positives and away from hidden pins; λ holds it to the prior; deterministic', async () => {
    const loose = (await learnFromEvents(tf, table, events, prior, options))!;
    const again = (await learnFromEvents(tf, table, events, prior, options))!;
    expect(Array.from(again.vector)).toEqual(Array.from(loose.vector));
    const tight = (await learnFromEvents(tf, table, events, prior, { ...options, l2: 100 }))!;
    const cos = (v: Float32Array, row: number[]) => v.reduce((s, a, d) => s + a * row[d], 0);
    // The prior points at pin 3 (hidden) and away from pins 0 and 1 (engaged).
    expect(cos(loose.vector, rows[1])).toBeGreaterThan(cos(prior, rows[1]) + 0.3);
    expect(cos(loose.vector, rows[3])).toBeLessThan(cos(prior, rows[3]) - 0.3);
    for (let d = 0; d < 3; d++) expect(Math.abs(tight.vector[d] - prior[d])).toBeLessThan(0.02);
    expect(loose.counts.positives).toBe(3);
    // Without a prior it starts from zero.
    const fresh = (await learnFromEvents(tf, table, events, undefined, options))!;
    expect(cos(fresh.vector, rows[1])).toBeGreaterThan(0.5);
  });
});
