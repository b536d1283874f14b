import type { FitHooks, Recommender, TrainingData } from '../../core/eval/model.ts';
import { type CsrMatrix, degrees, interactionMatrix, inverseSqrt, scaled, transpose } from '../sparse/csr.ts';
import { randomizedSvd } from './randomized-svd.ts';

export interface GfcfOptions {
  /** Singular vectors of the ideal low-pass filter (the paper's 256). */
  rank: number;
  oversample: number;
  powerIterations: number;
  /** Weight of the ideal low-pass term; chosen on validation when several are given. */
  alphas: number[];
  seed: number;
}

const DEFAULTS: GfcfOptions = {
  rank: 256,
  oversample: 16,
  powerIterations: 4,
  // The paper uses 0.3 on Gowalla and Yelp2018 and 0 on Amazon-book; validation picks per data set.
  alphas: [0, 0.1, 0.3, 0.5, 1],
  seed: 1,
};

/**
 * GF-CF (Shen et al., CIKM 2021), a training-free graph filter. With R̃ = D_u^{-1/2} R D_i^{-1/2} the
 * normalised training matrix and V its top right singular vectors, a user's row r_u scores items by
 *   r_u R̃ᵀR̃  +  α · r_u D_i^{-1/2} V Vᵀ D_i^{1/2}
 * (a linear low-pass filter plus an ideal one). The item–item matrix is never formed: the linear term is
 * (r_u R̃ᵀ) R̃, two sparse products per user, so memory stays O(nnz + items × rank).
 */
export class GfcfRecommender implements Recommender {
  readonly name = 'gfcf';
  private readonly options: GfcfOptions;
  private normalized: CsrMatrix | undefined;
  private normalizedT: CsrMatrix | undefined;
  private itemScale = new Float64Array(0);
  private vectors = new Float32Array(0);
  private rank = 0;
  private alpha = 0;
  private buildSeconds = 0;
  private readonly validation: string[] = [];
  private userScratch = new Float64Array(0);
  private itemScratch = new Float64Array(0);
  private projection = new Float64Array(0);
  private candidateScratch = new Float32Array(0);

  constructor(options: Partial<GfcfOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
    if (this.options.alphas.length === 0) throw new RangeError('GF-CF needs at least one alpha');
    if (!Number.isInteger(this.options.rank) || this.options.rank < 1)
      throw new RangeError(`GF-CF rank must be a positive integer, got ${this.options.rank}`);
  }

  async fit(data: TrainingData, hooks: FitHooks = {}): Promise<void> {
    const started = performance.now();
    const r = interactionMatrix(data.train, data.numItems);
    const { rows: du, cols: di } = degrees(r);
    const su = inverseSqrt(du);
    const si = inverseSqrt(di);
    const normalized = scaled(r, su, si);
    const normalizedT = transpose(normalized);
    hooks.onProgress?.(0, 2, 'svd');
    const svd = randomizedSvd(normalized, normalizedT, {
      rank: this.options.rank,
      oversample: this.options.oversample,
      powerIterations: this.options.powerIterations,
      seed: this.options.seed,
    });
    this.normalized = normalized;
    this.normalizedT = normalizedT;
    this.rank = svd.rank;
    this.vectors = Float32Array.from(svd.vectors);
    // D_i^{-1/2} on the way in, D_i^{1/2} on the way out; items without training users score 0.
    this.itemScale = si;
    this.userScratch = new Float64Array(data.numUsers);
    this.itemScratch = new Float64Array(data.numItems);
    this.projection = new Float64Array(this.rank);
    this.candidateScratch = new Float32Array(data.numItems);
    this.buildSeconds = (performance.now() - started) / 1000;
    hooks.onProgress?.(1, 2, 'svd');

    this.validation.length = 0;
    const { alphas } = this.options;
    this.alpha = alphas[0];
    if (hooks.validate && alphas.length > 1) {
      let best = Number.NEGATIVE_INFINITY;
      let chosen = alphas[0];
      for (const alpha of alphas) {
        this.alpha = alpha;
        const value = hooks.validate();
        this.validation.push(`${alpha}:${value.toFixed(4)}`);
        if (value > best) {
          best = value;
          chosen = alpha;
        }
      }
      this.alpha = chosen;
    }
    hooks.onProgress?.(2, 2, 'svd');
  }

  /** Scores every item for one user's history into `out` (numItems long). */
  scoreItems(history: Int32Array, out: Float32Array): void {
    const a = this.normalized;
    const at = this.normalizedT;
    if (!a || !at) throw new Error('GF-CF: call fit before scoring');
    const t = this.userScratch;
    const s = this.itemScratch;
    t.fill(0);
    s.fill(0);
    // Linear filter: t = R̃ r_uᵀ (users), then s = R̃ᵀ t (items). A history item repeated counts once.
    const items = new Set(history);
    for (const i of items) {
      if (i < 0 || i >= at.rows) throw new RangeError(`history item ${i} outside 0..${at.rows - 1}`);
      for (let k = at.offsets[i]; k < at.offsets[i + 1]; k++) t[at.indices[k]] += at.values[k];
    }
    for (let u = 0; u < a.rows; u++) {
      const w = t[u];
      if (w === 0) continue;
      for (let k = a.offsets[u]; k < a.offsets[u + 1]; k++) s[a.indices[k]] += w * a.values[k];
    }
    if (this.alpha !== 0) {
      const rank = this.rank;
      const v = this.vectors;
      const p = this.projection;
      p.fill(0);
      for (const i of items) {
        const w = this.itemScale[i];
        if (w === 0) continue;
        for (let k = 0; k < rank; k++) p[k] += w * v[i * rank + k];
      }
      for (let j = 0; j < s.length; j++) {
        const scale = this.itemScale[j];
        if (scale === 0) continue;
        let dot = 0;
        const o = j * rank;
        for (let k = 0; k < rank; k++) dot += v[o + k] * p[k];
        s[j] += (this.alpha * dot) / scale;
      }
    }
    for (let j = 0; j < s.length; j++) out[j] = s[j];
  }

  score(_user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    // Full ranking passes every item in order: score straight into `out`.
    if (candidates.length === this.itemScratch.length && isIdentity(candidates)) {
      this.scoreItems(history, out);
      return;
    }
    const all = this.candidateScratch;
    this.scoreItems(history, all);
    for (let c = 0; c < candidates.length; c++) out[c] = all[candidates[c]];
  }

  describe(): Record<string, unknown> {
    return {
      ...this.options,
      alphas: this.options.alphas.join(','),
      rank: this.rank,
      alpha: this.alpha,
      validation: this.validation.join(' '),
      buildSeconds: Math.round(this.buildSeconds * 10) / 10,
    };
  }
}

function isIdentity(candidates: Int32Array): boolean {
  for (let c = 0; c < candidates.length; c++) if (candidates[c] !== c) return false;
  return true;
}
