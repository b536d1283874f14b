import { describe, expect, it } from 'vitest';
import type { Recommender } from '../../src/core/eval/model.ts';
import type { EvalSplit } from '../../src/core/eval/split.ts';
import { describeRetrievalSpace } from '../../src/core/lab/run.ts';
import type { PinnerFormerRecommender } from '../../src/train/pinnerformer/index.ts';
import type { ActionSequence } from '../../src/train/pinnerformer/sequences.ts';
import type { TrainRunOptions } from '../../src/train/pipeline.ts';
import {
  BlendRecommender,
  BlendSpace,
  blendFactors,
  chooseBlendWeight,
  chooseRetrievalModel,
  concatenateScaled,
  LightGcnSpace,
  ScoreMemo,
  type UserSpace,
} from '../../src/train/space/index.ts';
import { chooseRetrievalSpace, type LightGcnFoldIn } from '../../src/train/space/stages.ts';

// One user, two items, two dimensions per space. w = 0.25, σ_pf = 2, σ_lg = 0.5.
//   PinnerFormer: u = (1, 0),     items (2, 1), (0, 3)  → s_pf = 2, 0
//   LightGCN:     u = (0.6, 0.8), items (1, 0), (0, 1)  → s_lg = 0.6, 0.8
//   blend: 0.75·s_pf/2 + 0.25·s_lg/0.5 = 0.375·s_pf + 0.5·s_lg → 0.75 + 0.3 = 1.05, 0 + 0.4 = 0.4
const BLEND = { weight: 0.25, scales: { pinnerformer: 2, lightgcn: 0.5 } };
const U_PF = [1, 0];
const U_LG = [0.6, 0.8];
const ITEMS_PF = [2, 1, 0, 3];
const ITEMS_LG = [1, 0, 0, 1];
const EXPECTED = [1.05, 0.4];

function dots(user: Float32Array, items: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < items.length / dim; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += user[d] * items[r * dim + d];
    out.push(s);
  }
  return out;
}

/** A space whose every user is `user` (PinnerFormer's encoder is not the subject here). */
function fixedSpace(user: number[], items: number[]): UserSpace {
  return {
    model: 'pinnerformer',
    dim: user.length,
    maxLength: 50,
    hasTimestamps: false,
    items: Float32Array.from(items),
    embedSequences: (sequences: ActionSequence[]) => {
      const out = new Float32Array(sequences.length * user.length);
      sequences.forEach((_, n) => {
        out.set(user, n * user.length);
      });
      return out;
    },
  };
}

/** Scores fixed per candidate item. */
function fixedScores(name: string, byItem: number[]): Recommender {
  return {
    name,
    fit: async () => {},
    score: (_u, _h, candidates, out) => {
      candidates.forEach((item, c) => {
        out[c] = byItem[item];
      });
    },
  };
}

const sequence = (items: number[]): ActionSequence => ({
  items: Int32Array.from(items),
  actions: new Uint8Array(items.length).fill(1),
  ts: new Float64Array(items.length).fill(Number.NaN),
  positive: new Uint8Array(items.length).fill(1),
});

describe('the PinnerFormer–LightGCN blend as one dot product', () => {
  it('the concatenated, weighted rows score exactly the weighted sum of the two spaces (hand-computed)', () => {
    const factors = blendFactors(BLEND);
    expect(factors.pinnerformer).toBeCloseTo(Math.sqrt(0.75 / 2), 12);
    expect(factors.lightgcn).toBeCloseTo(Math.sqrt(0.25 / 0.5), 12);
    const items = concatenateScaled(Float32Array.from(ITEMS_PF), 2, Float32Array.from(ITEMS_LG), 2, factors);
    const user = concatenateScaled(Float32Array.from(U_PF), 2, Float32Array.from(U_LG), 2, factors);
    expect(items.length).toBe(2 * 4);
    const scores = dots(user, items, 4);
    expect(scores[0]).toBeCloseTo(EXPECTED[0], 6);
    expect(scores[1]).toBeCloseTo(EXPECTED[1], 6);
  });

  it('BlendSpace serves the table and unit user rows whose dot product is the blend over |user| (real LightGCN fold-in)', () => {
    // LightGCN's half from its real fold-in: one engaged item whose fold-in row is (3, 4) → unit (0.6, 0.8).
    const lightgcn = new LightGcnSpace(Float32Array.from(ITEMS_LG), Float32Array.from([3, 4, 0, 0]), 2);
    const space = new BlendSpace(fixedSpace(U_PF, ITEMS_PF), lightgcn, { ...BLEND, grid: [] });
    expect(space.model).toBe('blend');
    expect(space.dim).toBe(4);
    expect(space.maxLength).toBe(1024);
    const user = space.embedSequences([sequence([0])]);
    // |[a·u_pf, b·u_lg]|² = 0.375·1 + 0.5·1 = 0.875: the blend's ranking, scaled by 1/√0.875.
    const norm = Math.sqrt(0.875);
    const scores = dots(user, space.items, 4);
    expect(scores[0]).toBeCloseTo(EXPECTED[0] / norm, 6);
    expect(scores[1]).toBeCloseTo(EXPECTED[1] / norm, 6);
    expect(Math.hypot(...user)).toBeCloseTo(1, 6);
  });

  it("BlendRecommender (the harness's view) gives the same scores from the two models' scores", () => {
    const pf = fixedScores('pinnerformer', [2, 0]);
    const lg = fixedScores('lightgcn', [0.6, 0.8]);
    const out = new Float32Array(2);
    new BlendRecommender(pf, lg, BLEND).score(0, new Int32Array(0), Int32Array.from([0, 1]), out);
    expect(out[0]).toBeCloseTo(EXPECTED[0], 6);
    expect(out[1]).toBeCloseTo(EXPECTED[1], 6);
    // w = 0 and w = 1 are the spaces alone, divided by their σ.
    new BlendRecommender(pf, lg, { ...BLEND, weight: 0 }).score(
      0,
      new Int32Array(0),
      Int32Array.from([0, 1]),
      out,
    );
    expect(Array.from(out)).toEqual([1, 0]);
    new BlendRecommender(pf, lg, { ...BLEND, weight: 1 }).score(
      0,
      new Int32Array(0),
      Int32Array.from([1]),
      out,
    );
    expect(out[0]).toBeCloseTo(1.6, 6);
  });

  it('refuses a weight outside [0, 1] and a scale that is not positive', () => {
    expect(() => blendFactors({ weight: 1.5, scales: BLEND.scales })).toThrow(/outside/);
    expect(() => blendFactors({ weight: 0.5, scales: { pinnerformer: 0, lightgcn: 1 } })).toThrow(/positive/);
  });

  it("ScoreMemo replays a user's scores and measures their spread (σ over finite scores, population form)", () => {
    let calls = 0;
    const counted: Recommender = {
      name: 'counted',
      fit: async () => {},
      score: (_u, _h, candidates, out) => {
        calls++;
        candidates.forEach((item, c) => {
          out[c] = item + 1;
        });
      },
    };
    const memo = new ScoreMemo(counted);
    const all = Int32Array.from([0, 1, 2, 3]);
    const out = new Float32Array(4);
    memo.score(7, new Int32Array(0), all, out);
    out.fill(Number.NEGATIVE_INFINITY); // the harness masks history afterwards: the kept copy is untouched
    memo.score(7, new Int32Array(0), all, out);
    expect(calls).toBe(1);
    expect(Array.from(out)).toEqual([1, 2, 3, 4]);
    // Scores 1, 2, 3, 4: mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25.
    expect(memo.scoreDeviation()).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(() => memo.score(7, new Int32Array(0), Int32Array.from([0, 1]), new Float32Array(2))).toThrow(
      /other candidates/,
    );
  });
});

describe('choosing the retrieval space with the blend', () => {
  it('picks the validation winner of a constructed table, the blend included', () => {
    expect(chooseRetrievalModel({ pinnerformer: 0.1952, lightgcn: 0.2126, blend: 0.2201 })).toBe('blend');
    expect(chooseRetrievalModel({ pinnerformer: 0.1952, lightgcn: 0.2126, blend: 0.21 })).toBe('lightgcn');
    expect(chooseRetrievalModel({ pinnerformer: 0.23, lightgcn: 0.2126, blend: 0.2201 })).toBe(
      'pinnerformer',
    );
    // A tie keeps the single space, whose table is half as wide.
    expect(chooseRetrievalModel({ pinnerformer: 0.2, lightgcn: 0.21, blend: 0.21 })).toBe('lightgcn');
  });

  it('picks the blend weight with the best validation score, the smaller weight on a tie', () => {
    const grid = [
      { weight: 0.1, score: 0.2 },
      { weight: 0.25, score: 0.23 },
      { weight: 0.5, score: 0.24 },
      { weight: 0.75, score: 0.24 },
      { weight: 0.9, score: 0.22 },
    ];
    expect(chooseBlendWeight(grid)).toBe(0.5);
    expect(chooseBlendWeight(grid.map((row) => (row.weight === 0.9 ? { ...row, score: 0.3 } : row)))).toBe(
      0.9,
    );
    expect(() => chooseBlendWeight([{ weight: 0.5, score: Number.NaN }])).toThrow(/no blend weight/);
  });

  it('the lab and CLI name the blend and its weight', () => {
    const blend = { weight: 0.75, scales: { pinnerformer: 0.13, lightgcn: 0.46 }, grid: [] };
    const validation = { pinnerformer: 0.1952, lightgcn: 0.2126, blend: 0.2177 };
    expect(
      describeRetrievalSpace({
        model: 'blend',
        chosenBy: 'validation',
        metric: 'Recall@20',
        validation,
        blend,
      }),
    ).toBe(
      'a PinnerFormer–LightGCN blend (w 0.75) (chosen on validation Recall@20: pinnerformer 0.1952, lightgcn 0.2126, blend 0.2177)',
    );
  });

  it('a resumed run keeps its recorded scores but chooses among the models it trains this time', () => {
    // The resume path reads only the protocol and which candidates exist: the recorded table decides.
    const split = { protocol: 'temporal' } as EvalSplit;
    const options = { seed: 1 } as TrainRunOptions;
    const pinnerformer = {} as PinnerFormerRecommender;
    const lightgcn = {} as LightGcnFoldIn;
    const previous = {
      model: 'blend' as const,
      chosenBy: 'validation' as const,
      metric: 'Recall@20',
      validation: { pinnerformer: 0.1952, lightgcn: 0.2126, blend: 0.2177 },
    };
    expect(chooseRetrievalSpace(split, options, { pinnerformer, lightgcn }, previous)).toMatchObject({
      model: 'blend',
      chosenBy: 'validation',
    });
    expect(chooseRetrievalSpace(split, options, { lightgcn }, previous)).toMatchObject({
      model: 'lightgcn',
      chosenBy: 'only-candidate',
    });
    expect(
      chooseRetrievalSpace(
        split,
        { ...options, retrieval: 'pinnerformer' },
        { pinnerformer, lightgcn },
        previous,
      ),
    ).toMatchObject({ model: 'pinnerformer', chosenBy: 'forced', validation: previous.validation });
  });
});
