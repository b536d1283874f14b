import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/core/random.ts';
import { CONTEXT_DIM } from '../../src/core/ranking/index.ts';
import { ACTION_TYPES, encoderInput, TIME_FEATURES, tableRows } from '../../src/core/sequence/index.ts';
import { encoderFeeds, rankerFeeds } from '../../src/train/bundle/feeds.ts';
import { generateSynthetic } from '../../src/train/data/synthetic/index.ts';
import { exportEncoder } from '../../src/train/encoder/export.ts';
import { CompactEncoder } from '../../src/train/encoder/model.ts';
import { runModel } from '../../src/train/onnx/index.ts';
import { actionSequences } from '../../src/train/pinnerformer/index.ts';
import { buildExamples } from '../../src/train/ranker/examples.ts';
import { exportRanker } from '../../src/train/ranker/export.ts';
import {
  type RankerBatch,
  RankerModel,
  type RankerSequence,
  STUDENT_SHAPE,
  TEACHER_SHAPE,
} from '../../src/train/ranker/model.ts';
import { initTraining, tf } from '../../src/train/tf/backend.ts';

beforeAll(async () => {
  await initTraining();
});

const DIM = 16;
const normals = (random: Random, n: number, scale = 1) =>
  Float32Array.from({ length: n }, () => random.normal() * scale);

/** Moves every weight off its initial value, so the parity check covers trained-looking weights. */
function perturb(params: { variables: Map<string, tf.Variable> }, random: Random) {
  for (const v of params.variables.values())
    v.assign(v.add(tf.tensor(normals(random, v.size, 0.1), v.shape)));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const data = generateSynthetic({ users: 60, items: 200, events: 6000, seed: 3 });
const items = Float32Array.from(normals(new Random(5), 200 * DIM, 0.2));

const SEQUENCE = { length: 6, width: 8 };

/** Random sequences left-padded as encoderInput pads: row b has b % (length + 1) real tokens (0 … length). */
function randomSequence(random: Random, size: number): RankerSequence {
  const { length } = SEQUENCE;
  const items = new Float32Array(size * length * DIM);
  const actions = new Float32Array(size * length * ACTION_TYPES);
  const time = new Float32Array(size * length * TIME_FEATURES);
  const mask = new Float32Array(size * length);
  for (let b = 0; b < size; b++) {
    for (let t = length - (b % (length + 1)); t < length; t++) {
      const cell = b * length + t;
      mask[cell] = 1;
      actions[cell * ACTION_TYPES + random.int(ACTION_TYPES)] = 1;
      items.set(normals(random, DIM), cell * DIM);
      time.set(normals(random, TIME_FEATURES), cell * TIME_FEATURES);
    }
  }
  return { items, actions, time, mask };
}

describe('ONNX export of the multi-head ranker', () => {
  for (const [role, shape] of [
    ['teacher', TEACHER_SHAPE],
    ['student', STUDENT_SHAPE],
    ['early-fusion teacher', { ...TEACHER_SHAPE, sequence: SEQUENCE }],
    ['early-fusion student', { ...STUDENT_SHAPE, sequence: SEQUENCE }],
  ] as const) {
    it(`${role}: onnxruntime-node equals tfjs within 1e-4 on random and real inputs`, async () => {
      const random = new Random(11);
      const model = new RankerModel({ embeddingDim: DIM, ...shape }, random, 1e-3);
      perturb(model.params, random);
      model.contextMean.set(normals(random, CONTEXT_DIM));
      model.contextStd.set(Float32Array.from({ length: CONTEXT_DIM }, () => 0.5 + random.next()));
      const randomBatch: RankerBatch = {
        size: 7,
        userLong: normals(random, 7 * DIM),
        userShort: normals(random, 7 * DIM),
        item: normals(random, 7 * DIM),
        context: normals(random, 7 * CONTEXT_DIM),
        ...('sequence' in shape ? { sequence: randomSequence(random, 7) } : {}),
      };
      // Real inputs: impressions of the synthetic log, with their context features and item rows.
      const span = [data.log.ts[0], data.log.ts[data.log.length - 1]];
      const examples = buildExamples(
        data.log,
        data.users.size,
        data.items.size,
        { from: (span[0] + span[1]) / 2, to: span[1] + 1 },
        random,
      );
      expect(examples.size).toBeGreaterThan(50);
      const n = 50;
      const realBatch: RankerBatch = {
        size: n,
        userLong: normals(random, n * DIM, 0.3),
        userShort: normals(random, n * DIM, 0.3),
        item: Float32Array.from(
          { length: n * DIM },
          (_, i) => items[examples.item[Math.floor(i / DIM)] * DIM + (i % DIM)],
        ),
        context: examples.context.slice(0, n * CONTEXT_DIM),
      };
      if ('sequence' in shape) {
        // Real sequences: each example's user's actions before the window, over the same item table.
        const sequences = actionSequences(data.log, data.users.size, true);
        const windows = Array.from({ length: n }, (_, k) => {
          const s = sequences[examples.user[k]];
          let end = 0;
          while (end < s.ts.length && s.ts[end] < examples.sessions[examples.session[k]].start) end++;
          return { items: s.items, actions: s.actions, ts: s.ts, end };
        });
        const input = encoderInput(windows, SEQUENCE.length, DIM, tableRows(items, DIM));
        expect(input.mask.some((m) => m === 0)).toBe(true);
        expect(input.mask.some((m) => m === 1)).toBe(true);
        realBatch.sequence = input;
      }
      const onnx = exportRanker(model, `ranker-${role}`);
      const [a, b] = await runModel(onnx, [rankerFeeds(randomBatch, DIM), rankerFeeds(realBatch, DIM)]);
      expect(maxDiff(a.probs as Float32Array, model.predict(randomBatch))).toBeLessThan(1e-4);
      expect(maxDiff(b.probs as Float32Array, model.predict(realBatch))).toBeLessThan(1e-4);
      const logits = tf.tidy(() => model.forward(realBatch).dataSync());
      expect(maxDiff(b.logits as Float32Array, logits)).toBeLessThan(1e-4);
      if (realBatch.sequence) {
        // As the engine serves: one user's sequence fed once (1 row) broadcasts over every candidate,
        // equal to the same sequence repeated per candidate as training feeds it.
        const seq = realBatch.sequence;
        const cells = seq.mask.length / n;
        const first = (values: Float32Array) => values.slice(0, values.length / n);
        const repeated = (values: Float32Array) => {
          const row = first(values);
          const out = new Float32Array(values.length);
          for (let r = 0; r < n; r++) out.set(row, r * row.length);
          return out;
        };
        const shared: RankerBatch = {
          ...realBatch,
          sequence: {
            ...seq,
            items: repeated(seq.items),
            actions: repeated(seq.actions),
            time: repeated(seq.time),
            mask: repeated(seq.mask),
          },
        };
        const once = rankerFeeds(shared, DIM);
        for (const name of ['seq_items', 'seq_actions', 'seq_time', 'seq_mask'] as const) {
          const { data, dims } = once[name];
          once[name] = { data: data.slice(0, data.length / n), dims: [1, ...dims.slice(1)] };
        }
        expect(once.seq_mask.dims).toEqual([1, cells]);
        const [perRow, broadcast] = await runModel(onnx, [rankerFeeds(shared, DIM), once]);
        expect(maxDiff(perRow.probs as Float32Array, model.predict(shared))).toBeLessThan(1e-4);
        expect(maxDiff(broadcast.probs as Float32Array, perRow.probs as Float32Array)).toBeLessThan(1e-6);
      }
    });
  }
});

describe('ONNX export of the compact encoder', () => {
  it('onnxruntime-node equals tfjs within 1e-4 on random inputs and on real padded action windows', async () => {
    const random = new Random(13);
    const length = 8;
    const encoder = new CompactEncoder({ dim: 16, heads: 2, length, itemDim: DIM }, random, 1e-3);
    perturb(encoder.params, random);
    const size = 5;
    const mask = new Float32Array(size * length);
    const actions = new Float32Array(size * length * ACTION_TYPES);
    for (let b = 0; b < size; b++) {
      const valid = 1 + b; // 1..5 real tokens, left padding
      for (let t = length - valid; t < length; t++) {
        mask[b * length + t] = 1;
        actions[(b * length + t) * ACTION_TYPES + random.int(ACTION_TYPES)] = 1;
      }
    }
    const randomInput = {
      size,
      length,
      dim: DIM,
      items: normals(random, size * length * DIM),
      actions,
      time: normals(random, size * length * TIME_FEATURES),
      mask,
    };
    const sequences = actionSequences(data.log, data.users.size, true).filter((s) => s.items.length > 0);
    const windows = sequences.slice(0, 20).map((s) => ({ items: s.items, actions: s.actions, ts: s.ts }));
    const realInput = encoderInput(windows, length, DIM, tableRows(items, DIM));
    expect(realInput.mask.some((m) => m === 0)).toBe(true);
    const onnx = exportEncoder(encoder, 'encoder');
    const feeds = {
      items: { data: randomInput.items, dims: [size, length, DIM] },
      actions: { data: randomInput.actions, dims: [size, length, ACTION_TYPES] },
      time: { data: randomInput.time, dims: [size, length, TIME_FEATURES] },
      mask: { data: randomInput.mask, dims: [size, length] },
    };
    const [a, b] = await runModel(onnx, [feeds, encoderFeeds(windows, encoder.shape, items)]);
    expect(maxDiff(a.user as Float32Array, encoder.embed(randomInput))).toBeLessThan(1e-4);
    expect(maxDiff(b.user as Float32Array, encoder.embed(realInput))).toBeLessThan(1e-4);
    // Padding is inert: a window's embedding does not change when a padded slot's content does.
    const noisy = { ...randomInput, items: randomInput.items.slice() };
    noisy.items.fill(9, 0, DIM);
    expect(
      maxDiff(encoder.embed(noisy).subarray(0, DIM), encoder.embed(randomInput).subarray(0, DIM)),
    ).toBeLessThan(1e-6);
  });
});
