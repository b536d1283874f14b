import { slabF64 } from '../typed-slab.ts';
import { medoids, wardClustering } from './ward.ts';

/**
 * PinnerSage (Pal et al., KDD 2020) on the device: the user's engaged pins are clustered with Ward's
 * method, each cluster is represented by its medoid pin and weighted by how often, and how recently, the
 * user engaged with it.
 */
export interface InterestOptions {
  /** Ward distance at which clustering stops merging (on unit-length rows, so within [0, 2·√n]). */
  threshold: number;
  /** At most this many clusters (merging goes on past the threshold until there are no more). */
  maxClusters: number;
  /** Only the newest engaged pins are clustered (PinnerSage keeps a recent window too). */
  maxPins: number;
  /** Half-life of an engagement's weight in an interest's importance; Infinity = plain frequency. */
  halfLifeDays: number;
  /** Interests retrieved for, most important first. */
  maxInterests: number;
  /** Share of the candidates kept for the single (blended) embedding's query, the rest by importance. */
  singleShare: number;
}

export const DEFAULT_INTEREST_OPTIONS: Readonly<InterestOptions> = {
  threshold: 1.5,
  maxClusters: 8,
  maxPins: 100,
  halfLifeDays: 7,
  maxInterests: 3,
  singleShare: 0.25,
};

export interface EngagedPin {
  item: number;
  /** When the user engaged with it (ms; NaN where the data has no clock): one entry per engagement. */
  times: number[];
}

export interface Interest {
  /** Indices into the pins given. */
  members: number[];
  /** Index into the pins given. */
  medoid: number;
  /** Σ over the members' engagements of 2^(−age / half-life). */
  importance: number;
}

/** Time-decayed frequency: Σ 2^(−(now − t) / halfLife) over the engagement times (NaN ages count 1). */
export function decayedFrequency(times: readonly number[], now: number, halfLifeMs: number): number {
  let sum = 0;
  for (const t of times) {
    const age = Math.max(0, now - t);
    sum += Number.isFinite(halfLifeMs) && Number.isFinite(age) ? 2 ** (-age / halfLifeMs) : 1;
  }
  return sum;
}

/**
 * The interests of a user from the rows of their engaged pins (`rows`: pins.length × dim), most
 * important first (ties: the cluster of the lower pin index). Rows are scaled to unit length first, so
 * clusters group directions, which is what a dot-product retrieval reads.
 */
export function userInterests(
  pins: readonly EngagedPin[],
  rows: Float32Array,
  dim: number,
  now: number,
  options: InterestOptions,
): Interest[] {
  const n = pins.length;
  if (n === 0) return [];
  const unit = slabF64(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += rows[i * dim + d] ** 2;
    const norm = Math.sqrt(s) || 1;
    for (let d = 0; d < dim; d++) unit[i * dim + d] = rows[i * dim + d] / norm;
  }
  const { clusters } = wardClustering(unit, n, dim, {
    threshold: options.threshold,
    maxClusters: options.maxClusters,
  });
  const centres = medoids(unit, dim, clusters);
  const halfLife = options.halfLifeDays * 86_400_000;
  return clusters
    .map((members, c) => ({
      members,
      medoid: centres[c],
      importance: members.reduce((sum, i) => sum + decayedFrequency(pins[i].times, now, halfLife), 0),
    }))
    .sort((a, b) => b.importance - a.importance || a.members[0] - b.members[0]);
}
