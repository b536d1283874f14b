import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  epochExamples,
  positionTargets,
  type TargetRule,
} from '../../src/train/pinnerformer/batches.ts';
import {
  DEFAULT_PINNERFORMER_OPTIONS,
  TIME_FEATURES,
  TRAINING_OBJECTIVES,
} from '../../src/train/pinnerformer/config.ts';
import { logQ, sampleNegatives, targetFrequencies } from '../../src/train/pinnerformer/log-q.ts';
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
  const HOUR = 3_600_000;

  /** A random history with real timestamps: gaps of minutes to days from 2023-11-14. */
  function randomSequence(random: Random, length: number, numItems: number): ActionSequence {
    const ts: number[] = [];
    let now = 1_700_000_000_000;
    for (let t = 0; t < length; t++) {
      now += random.exponential(random.next() < 0.5 ? 0.2 : 30) * HOUR;
      ts.push(now);
    }
    return sequence(
      Array.from({ length }, () => random.int(numItems)),
      Array.from({ length }, () => 1 + random.int(4)),
      ts,
    );
  }

  /** A copy whose actions from `cut` on have other items, types and later times. */
  function changedFrom(s: ActionSequence, cut: number, random: Random, numItems: number): ActionSequence {
    const items = Array.from(s.items);
    const actions = Array.from(s.actions);
    const ts = Array.from(s.ts);
    for (let t = cut; t < items.length; t++) {
      items[t] = (items[t] + 1 + random.int(numItems - 1)) % numItems;
      actions[t] = 1 + ((actions[t] + random.int(3)) % 4);
      ts[t] += random.exponential(48) * HOUR;
    }
    return sequence(items, actions, ts);
  }

  function appended(s: ActionSequence, extra: number, random: Random, numItems: number): ActionSequence {
    const tail = randomSequence(random, extra, numItems);
    const last = s.ts[s.ts.length - 1];
    return sequence(
      [...s.items, ...tail.items],
      [...s.actions, ...tail.actions],
      [...s.ts, ...Array.from(tail.ts, (t) => last + (t - 1_700_000_000_000))],
    );
  }

  /** A model whose distance biases (zeros at initialisation) are random, so that they take part. */
  function modelWith(relativePositions: boolean, numItems: number): PinnerFormerModel {
    const model = new PinnerFormerModel(numItems, { ...small, relativePositions }, new Random(1));
    if (relativePositions) {
      const bias = model.params.get('distanceBias');
      const random = new Random(5);
      bias.assign(
        tf.tensor(
          Array.from({ length: bias.size }, () => random.normal()),
          bias.shape,
        ),
      );
    }
    return model;
  }

  it.each([false, true])(
    'is causal with real timestamps (distance biases: %s): later actions (item, type, time) or appended ones never change an earlier position',
    (relativePositions) => {
      const numItems = 30;
      const model = modelWith(relativePositions, numItems);
      const random = new Random(11);
      let compared = 0;
      for (let trial = 0; trial < 12; trial++) {
        const length = 2 + random.int(small.maxLength - 3);
        const base = randomSequence(random, length, numItems);
        const cut = 1 + random.int(length - 1);
        const variants = [
          changedFrom(base, cut, random, numItems),
          appended(base, 1 + random.int(small.maxLength - length), random, numItems),
        ];
        // One batch: the base and its variants have different lengths, so padding differs too.
        const all = [base, ...variants];
        const encoded = encodeAll(model, all);
        const width = Math.max(...all.map((x) => x.items.length));
        const row = (b: number, t: number) => encoded[b * width + width - all[b].items.length + t];
        for (let b = 1; b < all.length; b++) {
          const same = b === 1 ? cut : length;
          for (let t = 0; t < same; t++) {
            for (let d = 0; d < small.dim; d++)
              expect(Math.abs(row(b, t)[d] - row(0, t)[d])).toBeLessThan(1e-6);
            compared++;
          }
        }
        // The first changed position does change: the test can fail.
        expect(row(1, cut)).not.toEqual(row(0, cut));
      }
      expect(compared).toBeGreaterThan(40);
    },
  );

  it('distance biases change the output (so the causal test above exercises them)', () => {
    const plain = encodeAll(modelWith(false, 30), [sequence([4, 6, 8, 10])]);
    const biased = encodeAll(modelWith(true, 30), [sequence([4, 6, 8, 10])]);
    // Position 0 attends to itself alone, so only later positions can differ.
    expect(biased[0]).toEqual(plain[0]);
    expect(Math.max(...biased[3].map((v, d) => Math.abs(v - plain[3][d])))).toBeGreaterThan(1e-3);
  });

  it.each([false, true])(
    'pads without effect (distance biases: %s): a short history in a batch with a longer one encodes as it does alone',
    (relativePositions) => {
      const model = modelWith(relativePositions, 20);
      const alone = encodeAll(model, [sequence([4, 6, 8])]);
      const padded = encodeAll(model, [sequence([4, 6, 8]), sequence([3, 5, 7, 9, 11, 13])]);
      for (let t = 0; t < 3; t++) {
        for (let d = 0; d < small.dim; d++) expect(padded[3 + t][d]).toBeCloseTo(alone[t][d], 5);
      }
    },
  );

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

  it('is the exact inclusion probability of the deduplicated set (enumeration of every draw)', () => {
    // 3 items, target distribution p; a set from 2 in-batch draws from p and 1 uniform draw.
    const p = [0.5, 0.3, 0.2];
    const inclusion = [0, 0, 0];
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        for (let c = 0; c < 3; c++) {
          const probability = p[a] * p[b] * (1 / 3);
          for (const item of new Set([a, b, c])) inclusion[item] += probability;
        }
      }
    }
    // Item 0: 1 − 0.5² · (2/3) = 0.833333; the expected count 2·0.5 + 1/3 = 1.333 would be no probability.
    expect(inclusion[0]).toBeCloseTo(1 - 0.25 * (2 / 3), 12);
    for (let i = 0; i < 3; i++) expect(Math.exp(logQ(p[i], 2, 1, 3))).toBeCloseTo(inclusion[i], 12);
    // Uniform only: 1 − (1 − 1/N)^R for every item, a constant shift.
    expect(logQ(0.9, 0, 10, 100)).toBeCloseTo(Math.log(1 - 0.99 ** 10), 12);
    // Tiny probabilities stay accurate (log1p path): ≈ log(K·p).
    expect(logQ(1e-12, 5, 0, 1e6)).toBeCloseTo(Math.log(5e-12), 6);
  });

  it('matches how sampleNegatives builds the set: distinct items, inclusion frequency as the closed form', () => {
    const p = [0.5, 0.25, 0.15, 0.1];
    const random = new Random(7);
    const draw = () => {
      let u = random.next();
      for (let i = 0; i < p.length; i++) {
        u -= p[i];
        if (u < 0) return i;
      }
      return p.length - 1;
    };
    const trials = 40_000;
    const seen = [0, 0, 0, 0];
    for (let n = 0; n < trials; n++) {
      // A batch of 6 target slots (iid from p); 2 of them are taken, plus 1 uniform item.
      const targets = Array.from({ length: 6 }, draw);
      const set = sampleNegatives(targets, 2, 1, 4, random);
      expect(set.inBatchDraws).toBe(2);
      expect(new Set(set.items).size).toBe(set.items.length);
      for (const item of set.items) seen[item]++;
    }
    // Standard error of a frequency near 0.5 over 40,000 trials is 0.0025: 0.01 is four of them.
    for (let i = 0; i < 4; i++) expect(seen[i] / trials).toBeCloseTo(Math.exp(logQ(p[i], 2, 1, 4)), 2);
  });
});

describe('training objectives', () => {
  const DAY = 86_400_000;
  const rule = (objective: TargetRule['objective']): TargetRule => ({
    objective,
    horizonDays: 1,
    horizonActions: 3,
    maxTargetsPerPosition: 8,
  });
  // click 7, hide 8, save 9, click 7 (the item of t = 0 again), click 10, click 11
  const s = sequence([7, 8, 9, 7, 10, 11], [1, 4, 3, 1, 1, 1]);

  it('next-action and sasrec: the first later positive of another item', () => {
    for (const objective of ['next-action', 'sasrec'] as const) {
      expect(positionTargets(s, 0, rule(objective), new Random(1))).toEqual([9]);
      expect(positionTargets(s, 2, rule(objective), new Random(1))).toEqual([7]);
      expect(positionTargets(s, 5, rule(objective), new Random(1))).toEqual([]);
    }
  });

  it('all-action: every positive within the horizon, in actions without timestamps', () => {
    // t = 0, horizon 3 actions: 8 (hide: no), 9, 7 (own item: no).
    expect(positionTargets(s, 0, rule('dense-all-action'), new Random(1))).toEqual([9]);
    // t = 1: 9, 7, 10.
    expect(positionTargets(s, 1, rule('all-action'), new Random(1))).toEqual([9, 7, 10]);
    const capped = positionTargets(s, 1, { ...rule('all-action'), maxTargetsPerPosition: 2 }, new Random(1));
    expect(capped).toHaveLength(2);
    for (const item of capped) expect([9, 7, 10]).toContain(item);
  });

  it('all-action: the horizon is in days where there are timestamps', () => {
    const timed = sequence([1, 2, 3, 4], [1, 1, 1, 1], [0, 0.5 * DAY, 0.9 * DAY, 1.5 * DAY]);
    expect(positionTargets(timed, 0, rule('dense-all-action'), new Random(1))).toEqual([2, 3]);
    expect(positionTargets(timed, 1, rule('dense-all-action'), new Random(1))).toEqual([3, 4]);
  });

  it('trains every position (dense) or the final one only, with a future to predict', () => {
    const sequences = [s];
    const example = [{ user: 0, start: 0, end: 6 }];
    const dense = buildBatch(sequences, example, { rule: rule('sasrec'), random: new Random(1) });
    expect(Array.from(dense.targetCells)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(dense.targetItems)).toEqual([9, 9, 7, 10, 11]);
    const final = buildBatch(sequences, [{ user: 0, start: 0, end: 3 }], {
      rule: rule('all-action'),
      random: new Random(1),
    });
    // The window ends at t = 2 (item 9): horizon 3 actions → 7, 10, 11.
    expect(Array.from(final.targetCells)).toEqual([2, 2, 2]);
    expect(Array.from(final.targetItems)).toEqual([7, 10, 11]);
    const cuts = epochExamples(
      Array.from({ length: 50 }, () => s),
      4,
      new Random(2),
      true,
    );
    for (const e of cuts) {
      expect(e.end).toBeLessThan(6);
      expect(e.end - e.start).toBeLessThanOrEqual(4);
    }
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
    expect(batch.targetCells).toHaveLength(0);
  });
});

describe('time features', () => {
  it('are log hours since the previous action and sin/cos of the day and week, never reading a later action', () => {
    const hour = 3_600_000;
    const ts = Float64Array.from([0, 6 * hour, 30 * hour]);
    const out = new Float32Array(3 * TIME_FEATURES);
    timeFeatures(ts, 0, 3, out, 0);
    const at = (t: number) => Array.from(out.subarray(t * TIME_FEATURES, (t + 1) * TIME_FEATURES));
    expect(TIME_FEATURES).toBe(5);
    expect(at(0)[0]).toBe(0);
    expect(at(1)[0]).toBeCloseTo(Math.log1p(6), 5);
    expect(at(2)[0]).toBeCloseTo(Math.log1p(24), 5);
    // 30 h is 6 h into a day: sin(2π·6/24) = 1, cos = 0.
    expect(at(2)[1]).toBeCloseTo(1, 5);
    expect(at(2)[2]).toBeCloseTo(0, 5);
    // A window starting at t = 1 gives t = 1 and 2 the same features (the gap reads ts[0]).
    const window = new Float32Array(2 * TIME_FEATURES);
    timeFeatures(ts, 1, 3, window, 0);
    expect(Array.from(window)).toEqual([...at(1), ...at(2)]);
    // A later action changes nothing before it.
    const later = Float64Array.from([0, 6 * hour, 99 * hour]);
    const changed = new Float32Array(3 * TIME_FEATURES);
    timeFeatures(later, 0, 3, changed, 0);
    expect(Array.from(changed.subarray(0, 2 * TIME_FEATURES))).toEqual([...at(0), ...at(1)]);
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

  it('trains under every objective and lowers the loss under dense all-action', async () => {
    for (const objective of TRAINING_OBJECTIVES) {
      const result = await trainPinnerFormer(data, { ...options, objective, maxEpochs: 1 });
      expect(Number.isFinite(result.history[0].loss)).toBe(true);
    }
    const dense = await trainPinnerFormer(data, {
      ...options,
      objective: 'dense-all-action',
      maxEpochs: 3,
      learningRate: 0.01,
    });
    expect(dense.history[2].loss).toBeLessThan(dense.history[0].loss);
  });

  it('gives bit-identical weights with a CPU-bound process running beside it (no clock in training)', async () => {
    const quiet = await trainPinnerFormer(data, options);
    const busy = spawn(process.execPath, ['-e', 'for(;;);'], { stdio: 'ignore' });
    try {
      const loaded = await trainPinnerFormer(data, options);
      expect(loaded.timeCut).toBeUndefined();
      expect(loaded.model.itemOut.values).toEqual(quiet.model.itemOut.values);
      const a = quiet.model.params.export();
      const b = loaded.model.params.export();
      for (const name of Object.keys(a)) expect(b[name].data).toEqual(a[name].data);
    } finally {
      busy.kill('SIGKILL');
    }
  });

  it('stops at an explicit time budget after a whole epoch, and says so', async () => {
    const cut = await trainPinnerFormer(data, { ...options, maxEpochs: 3, timeBudgetSeconds: 0 });
    expect(cut.history).toHaveLength(1);
    expect(cut.timeCut?.afterEpoch).toBe(0);
    const uncut = await trainPinnerFormer(data, { ...options, maxEpochs: 1, timeBudgetSeconds: 0 });
    expect(uncut.timeCut).toBeUndefined();
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

  it('decays the learning rate after an epoch without a new best (plateauDecay 0 freezes the weights)', async () => {
    // Validation scores 1, 0, 0: epoch 0 is the best, epochs 1 and 2 are plateaus.
    const tablesSeen = async (plateauDecay: number) => {
      const scores = [1, 0, 0];
      const tables: Float32Array[] = [];
      await trainPinnerFormer(
        data,
        { ...options, maxEpochs: 3, plateauDecay },
        {
          validate: (model) => {
            tables.push(model.itemOut.values.slice());
            return scores[tables.length - 1];
          },
        },
      );
      return tables;
    };
    const frozen = await tablesSeen(0);
    expect(frozen).toHaveLength(3);
    expect(frozen[1]).not.toEqual(frozen[0]);
    // Epoch 1 ran at the full rate; after its plateau the rate is 0, so epoch 2 changes nothing.
    expect(frozen[2]).toEqual(frozen[1]);
    const constant = await tablesSeen(1);
    expect(constant[1]).toEqual(frozen[1]);
    expect(constant[2]).not.toEqual(constant[1]);
  });

  it('resumes a checkpoint written before an option existed, taking it at its default, and refuses another value', async () => {
    const straight = await trainPinnerFormer(data, options);
    const checkpointDir = join(dir, 'ckpt-old');
    await trainPinnerFormer(data, options, { checkpointDir, stopAfterSteps: 5 });
    // As a checkpoint of the code before --logq-weight wrote it: no logQWeight among its options.
    const statePath = join(checkpointDir, 'state.json');
    const saved = JSON.parse(readFileSync(statePath, 'utf8'));
    expect(saved.state.options.logQWeight).toBe(1);
    delete saved.state.options.logQWeight;
    writeFileSync(statePath, JSON.stringify(saved));
    await expect(trainPinnerFormer(data, { ...options, logQWeight: 0.5 }, { checkpointDir })).rejects.toThrow(
      /holds a checkpoint of different data or options/,
    );
    const resumed = await trainPinnerFormer(data, options, { checkpointDir });
    expect(resumed.model.itemOut.values).toEqual(straight.model.itemOut.values);
  });
});
