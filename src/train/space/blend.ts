import type { RetrievalBlend } from '../../core/bundle/index.ts';
import type { Recommender, ScoreRequest } from '../../core/eval/model.ts';
import type { ActionSequence } from '../pinnerformer/sequences.ts';
import type { UserSpace } from './retrieval-space.ts';

/**
 * LightGCN's shares of the blended score tried on validation. The ends (w = 0, 1) are the two spaces alone,
 * which the candidates' own validation rows already score.
 */
export const BLEND_WEIGHTS = [0.1, 0.25, 0.5, 0.75, 0.9] as const;

/** Per-space factors that make one dot product over concatenated rows equal the blended score. */
export interface BlendFactors {
  /** Multiplies PinnerFormer's user and item rows: √((1−w)/σ_pf). */
  pinnerformer: number;
  /** Multiplies LightGCN's user and item rows: √(w/σ_lg). */
  lightgcn: number;
}

/**
 * [a·u_pf, b·u_lg]·[a·i_pf, b·i_lg] = a²·<u_pf, i_pf> + b²·<u_lg, i_lg> = (1−w)·s_pf/σ_pf + w·s_lg/σ_lg:
 * the square roots split each weight between the user and the item side, so both stay plain tables.
 */
export function blendFactors(blend: Pick<RetrievalBlend, 'weight' | 'scales'>): BlendFactors {
  const { weight, scales } = blend;
  if (!(weight >= 0 && weight <= 1)) throw new RangeError(`blend weight ${weight} is outside [0, 1]`);
  if (!(scales.pinnerformer > 0 && scales.lightgcn > 0))
    throw new RangeError(`blend scales must be positive, got ${JSON.stringify(scales)}`);
  return {
    pinnerformer: Math.sqrt((1 - weight) / scales.pinnerformer),
    lightgcn: Math.sqrt(weight / scales.lightgcn),
  };
}

/**
 * Row r of the result is [a·pf[r], b·lg[r]] (width dimPf + dimLg): item rows, or user rows, of the blend.
 * Both inputs must hold the same number of rows.
 */
export function concatenateScaled(
  pf: Float32Array,
  dimPf: number,
  lg: Float32Array,
  dimLg: number,
  factors: BlendFactors,
): Float32Array {
  const rows = pf.length / dimPf;
  if (!Number.isInteger(rows) || lg.length !== rows * dimLg)
    throw new RangeError(`the spaces' tables disagree: ${pf.length}/${dimPf} and ${lg.length}/${dimLg} rows`);
  const dim = dimPf + dimLg;
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dimPf; d++) out[r * dim + d] = factors.pinnerformer * pf[r * dimPf + d];
    for (let d = 0; d < dimLg; d++) out[r * dim + dimPf + d] = factors.lightgcn * lg[r * dimLg + d];
  }
  return out;
}

/**
 * The blend as a retrieval space: PinnerFormer's and LightGCN's user embeddings of the same history, each
 * scaled and concatenated, against the concatenated item table, so the device still runs one dot-product
 * scan (width dimPf + dimLg). A user row is rescaled to unit length, which leaves that user's ranking
 * as it is and keeps what the encoder's cosine distillation and the engine's server/device blend expect.
 */
export class BlendSpace implements UserSpace {
  readonly model = 'blend';
  readonly dim: number;
  readonly maxLength: number;
  readonly hasTimestamps: boolean;
  readonly items: Float32Array;
  private readonly factors: BlendFactors;

  constructor(
    private readonly pinnerformer: UserSpace,
    private readonly lightgcn: UserSpace,
    readonly blend: RetrievalBlend,
    /** The concatenated table when it was written before (`blend/items.f32`); computed otherwise. */
    items?: Float32Array,
  ) {
    this.factors = blendFactors(blend);
    this.dim = pinnerformer.dim + lightgcn.dim;
    // Each part reads its own window (PinnerFormer's newest 50, LightGCN's 1,024): the longer bounds both.
    this.maxLength = Math.max(pinnerformer.maxLength, lightgcn.maxLength);
    this.hasTimestamps = pinnerformer.hasTimestamps;
    this.items =
      items ??
      concatenateScaled(pinnerformer.items, pinnerformer.dim, lightgcn.items, lightgcn.dim, this.factors);
    if (this.items.length !== (pinnerformer.items.length / pinnerformer.dim) * this.dim)
      throw new RangeError(`the blend's item table has ${this.items.length} values, not items × ${this.dim}`);
  }

  embedSequences(sequences: ActionSequence[]): Float32Array {
    const users = concatenateScaled(
      this.pinnerformer.embedSequences(sequences),
      this.pinnerformer.dim,
      this.lightgcn.embedSequences(sequences),
      this.lightgcn.dim,
      this.factors,
    );
    const { dim } = this;
    for (let n = 0; n < sequences.length; n++) {
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += users[n * dim + d] ** 2;
      const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let d = 0; d < dim; d++) users[n * dim + d] *= scale;
    }
    return users;
  }
}

/**
 * The blended score (1−w)·s_pf/σ_pf + w·s_lg/σ_lg from two recommenders' scores: the harness's view of
 * the blend, which equals the concatenated dot product up to each user's positive factor (unit test).
 */
export class BlendRecommender implements Recommender {
  readonly name = 'blend';
  constructor(
    private readonly pinnerformer: Recommender,
    private readonly lightgcn: Recommender,
    readonly blend: Pick<RetrievalBlend, 'weight' | 'scales'>,
  ) {
    blendFactors(blend);
  }

  async fit(): Promise<void> {}

  score(user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    this.scoreMany([{ user, history, events: EMPTY_EVENTS, candidates, out }]);
  }

  scoreMany(requests: ScoreRequest[]): void {
    const parts = [this.pinnerformer, this.lightgcn].map((model) => {
      const copies = requests.map((r) => ({ ...r, out: new Float32Array(r.candidates.length) }));
      scoreRequests(model, copies);
      return copies;
    });
    const { weight, scales } = this.blend;
    const a = (1 - weight) / scales.pinnerformer;
    const b = weight / scales.lightgcn;
    requests.forEach((r, n) => {
      const pf = parts[0][n].out;
      const lg = parts[1][n].out;
      for (let c = 0; c < r.out.length; c++) r.out[c] = a * pf[c] + b * lg[c];
    });
  }

  describe(): Record<string, unknown> {
    return { ...this.blend };
  }
}

const EMPTY_EVENTS = { items: new Int32Array(0), actions: new Uint8Array(0), ts: new Float64Array(0) };

function scoreRequests(model: Recommender, requests: ScoreRequest[]): void {
  if (model.scoreMany) model.scoreMany(requests);
  else for (const r of requests) model.score(r.user, r.history, r.candidates, r.out);
}

/**
 * A recommender whose scores are kept per user, so that the blend's weight grid re-reads PinnerFormer's and
 * LightGCN's validation scores instead of re-encoding every user per weight. One evaluation stage only:
 * a user asked again with other candidates is refused.
 */
export class ScoreMemo implements Recommender {
  readonly name: string;
  private readonly kept = new Map<number, { candidates: Int32Array; scores: Float32Array }>();

  constructor(private readonly model: Recommender) {
    this.name = model.name;
  }

  async fit(): Promise<void> {}

  score(user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    this.scoreMany([{ user, history, events: EMPTY_EVENTS, candidates, out }]);
  }

  scoreMany(requests: ScoreRequest[]): void {
    const missing = requests.filter((r) => !this.kept.has(r.user));
    if (missing.length > 0) {
      scoreRequests(this.model, missing);
      for (const r of missing)
        this.kept.set(r.user, { candidates: r.candidates.slice(), scores: r.out.slice() });
    }
    for (const r of requests) {
      const kept = this.kept.get(r.user) as { candidates: Int32Array; scores: Float32Array };
      if (!sameCandidates(kept.candidates, r.candidates))
        throw new Error(`ScoreMemo: user ${r.user} was scored before against other candidates`);
      r.out.set(kept.scores);
    }
  }

  /** σ of every kept finite score: the spread the blend divides this model's scores by. */
  scoreDeviation(): number {
    let n = 0;
    let mean = 0;
    let m2 = 0;
    for (const { scores } of this.kept.values())
      for (const s of scores) {
        if (!Number.isFinite(s)) continue;
        n++;
        const delta = s - mean;
        mean += delta / n;
        m2 += delta * (s - mean);
      }
    if (n < 2) throw new Error(`${this.name}: too few scores to measure their spread`);
    return Math.sqrt(m2 / n);
  }
}

function sameCandidates(a: Int32Array, b: Int32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The weight with the highest validation score; ties go to the earlier (smaller) weight of the grid. */
export function chooseBlendWeight(grid: readonly { weight: number; score: number }[]): number {
  let best: { weight: number; score: number } | undefined;
  for (const row of grid)
    if (Number.isFinite(row.score) && (best === undefined || row.score > best.score)) best = row;
  if (!best) throw new Error('no blend weight has a validation score');
  return best.weight;
}
