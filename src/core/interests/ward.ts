import { slabF64, slabI32, slabU8 } from '../typed-slab.ts';

/**
 * Ward's hierarchical clustering (PinnerSage's choice: it needs no number of clusters up front and keeps
 * clusters compact), exact, by the Lance–Williams recurrence on a full distance matrix — O(n³), meant for
 * the few hundred pins one user engaged with.
 *
 * Distances follow scipy's `linkage(method='ward')`: the distance between clusters A and B is
 * √(2·|A|·|B| / (|A|+|B|)) · ‖centroid(A) − centroid(B)‖, which for two single points is their Euclidean
 * distance. The recurrence runs on its square, where it is exact:
 *   W(k, i∪j) = ((nᵢ+n_k)·W(k,i) + (n_j+n_k)·W(k,j) − n_k·W(i,j)) / (nᵢ+n_j+n_k).
 * Ties go to the pair of lowest indices (a cluster is known by its lowest member), so the result depends
 * on the input order alone.
 */

export interface WardMerge {
  /** The two clusters merged, each named by its lowest member (a < b). */
  a: number;
  b: number;
  /** The Ward distance at which they merged (non-decreasing along the merges). */
  distance: number;
  /** Members of the merged cluster. */
  size: number;
}

export interface WardCut {
  /** Stop merging once the next merge would be farther than this (default: none, or maxClusters alone). */
  threshold?: number;
  /** Merge on past the threshold while more clusters than this remain (default: no limit). */
  maxClusters?: number;
}

export interface WardClustering {
  /** Members of each cluster, ascending; clusters ordered by their lowest member. */
  clusters: number[][];
  merges: WardMerge[];
}

/** Clusters `count` points of `dim` floats (row-major in `points`), cut as `cut` says. */
export function wardClustering(
  points: ArrayLike<number>,
  count: number,
  dim: number,
  cut: WardCut = {},
): WardClustering {
  // maxClusters alone cuts the tree at that many clusters; neither builds the whole tree.
  const threshold =
    cut.threshold ?? (cut.maxClusters === undefined ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY);
  const maxClusters = Math.max(1, cut.maxClusters ?? Number.POSITIVE_INFINITY);
  const w = squaredDistances(points, count, dim);
  const size = slabI32(count).fill(1);
  const members: number[][] = Array.from({ length: count }, (_, i) => [i]);
  const active = slabU8(count).fill(1);
  const merges: WardMerge[] = [];
  for (let clusters = count; clusters > 1; clusters--) {
    let bi = -1;
    let bj = -1;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < count; i++) {
      if (!active[i]) continue;
      for (let j = i + 1; j < count; j++) {
        if (active[j] && w[i * count + j] < best) {
          best = w[i * count + j];
          bi = i;
          bj = j;
        }
      }
    }
    const distance = Math.sqrt(Math.max(0, best));
    if (distance > threshold && clusters <= maxClusters) break;
    const ni = size[bi];
    const nj = size[bj];
    for (let k = 0; k < count; k++) {
      if (!active[k] || k === bi || k === bj) continue;
      const nk = size[k];
      const value =
        ((ni + nk) * w[k * count + bi] + (nj + nk) * w[k * count + bj] - nk * best) / (ni + nj + nk);
      w[k * count + bi] = value;
      w[bi * count + k] = value;
    }
    size[bi] = ni + nj;
    members[bi] = [...members[bi], ...members[bj]].sort((x, y) => x - y);
    active[bj] = 0;
    merges.push({ a: bi, b: bj, distance, size: ni + nj });
  }
  const clusters: number[][] = [];
  for (let i = 0; i < count; i++) if (active[i]) clusters.push(members[i]);
  return { clusters, merges };
}

/** The full matrix of squared Euclidean distances, in float64. */
export function squaredDistances(points: ArrayLike<number>, count: number, dim: number): Float64Array {
  if (points.length < count * dim)
    throw new RangeError(`points has ${points.length} values, fewer than ${count} × ${dim}`);
  const out = slabF64(count * count);
  for (let i = 0; i < count; i++)
    for (let j = i + 1; j < count; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const diff = points[i * dim + d] - points[j * dim + d];
        s += diff * diff;
      }
      out[i * count + j] = s;
      out[j * count + i] = s;
    }
  return out;
}

/**
 * The medoid of each cluster: the member whose summed squared distance to the other members is least
 * (ties: the lowest index). PinnerSage queries with the medoid rather than the centroid: it is a real pin,
 * so the query stays on the item manifold, and it names the interest.
 */
export function medoids(points: ArrayLike<number>, dim: number, clusters: number[][]): number[] {
  return clusters.map((cluster) => {
    let best = cluster[0];
    let bestSum = Number.POSITIVE_INFINITY;
    for (const i of cluster) {
      let sum = 0;
      for (const j of cluster) {
        if (i === j) continue;
        for (let d = 0; d < dim; d++) {
          const diff = points[i * dim + d] - points[j * dim + d];
          sum += diff * diff;
        }
      }
      if (sum < bestSum) {
        bestSum = sum;
        best = i;
      }
    }
    return best;
  });
}
