/**
 * Seeded pseudo-random numbers: identical sequences in Node and in the browser, so every split,
 * sample and synthetic data set is reproducible from its seed.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    // splitmix32 scrambles small or similar seeds into well-spread starting states.
    let z = (seed | 0) + 0x9e3779b9;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    this.state = (z ^ (z >>> 16)) >>> 0;
  }

  /** mulberry32: a uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal variate (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** An exponential variate with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** A Gamma(shape, 1) variate (Marsaglia–Tsang), used for Dirichlet interest mixtures. */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * this.next() ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(values: T[] | Int32Array): void {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = values[i];
      values[i] = values[j];
      values[j] = tmp;
    }
  }

  /** An independent stream derived from this one, so sub-tasks stay reproducible when others change. */
  fork(): Random {
    return new Random(Math.floor(this.next() * 4294967296));
  }
}

/**
 * Draws indices proportionally to non-negative weights in O(1) per draw (Walker's alias method).
 */
export class AliasSampler {
  private readonly probability: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    if (n === 0) throw new Error('AliasSampler needs at least one weight');
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (!(weights[i] >= 0)) throw new Error(`AliasSampler weight ${i} is ${weights[i]}, must be >= 0`);
      total += weights[i];
    }
    if (total <= 0) throw new Error('AliasSampler weights sum to zero');
    this.probability = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      (scaled[i] < 1 ? small : large).push(i);
    }
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.probability[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const i of large) this.probability[i] = 1;
    for (const i of small) this.probability[i] = 1;
  }

  get size(): number {
    return this.probability.length;
  }

  sample(random: Random): number {
    const i = random.int(this.probability.length);
    return random.next() < this.probability[i] ? i : this.alias[i];
  }
}

/**
 * A stream determined by (seed, ...coordinates) alone, e.g. (seed, epoch, step): training that draws its
 * batch randomness from it resumes from any checkpointed step and reproduces the uninterrupted run.
 */
export function derivedRandom(seed: number, ...coordinates: number[]): Random {
  let h = seed | 0;
  for (const c of coordinates) {
    h = Math.imul(h ^ (c | 0), 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca77);
    h ^= h >>> 13;
  }
  return new Random(h);
}
