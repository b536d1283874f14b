/**
 * How the server's long-term embedding (PinnerFormer, refreshed by its job) and the embedding a device
 * learnt (synced through the embedding route) become the one embedding served to the user's devices.
 * Pure: the server applies it where the embedding is read, the replay where a second device starts.
 */
export type CombineRule =
  /** The server's embedding alone (the device's only where the server has none). */
  | { kind: 'server' }
  /** The device's embedding alone (the server's only where no device has synced one). */
  | { kind: 'device' }
  /** (1 − w)·server + w·device of the two at unit length, scaled to unit length. */
  | { kind: 'sum'; deviceWeight: number }
  /** The one written last (`updatedAt`); a tie goes to the device's. */
  | { kind: 'newest' };

/**
 * The server's rule unless told otherwise: the device's embedding (device weight 1). Chosen by Recall@20 on
 * the replay's validation window (variant `second`, default bundle, 500 users, seed 0): device 0.1123,
 * server 0.1099, sums at device weight 0.25 / 0.5 / 0.75 0.1071 / 0.1032 / 0.1089 — all within that
 * sample's noise (docs/replay.md).
 */
export const DEFAULT_COMBINE_RULE: Readonly<CombineRule> = { kind: 'device' };

/** One of the two embeddings, with when it was written (ms since the epoch). */
export interface TimedEmbedding {
  vector: ArrayLike<number>;
  updatedAt: number;
}

/**
 * The embedding to serve. An embedding of zeros (what the refresh job writes for a user without a usable
 * action) counts as missing; where only one exists it is served as it is, whatever the rule; neither gives
 * undefined. The two must have the same length (the same model version: the caller's to check).
 */
export function combineEmbeddings(
  rule: CombineRule,
  server: TimedEmbedding | undefined,
  device: TimedEmbedding | undefined,
): Float32Array | undefined {
  const s = server && norm(server.vector) > 0 ? server : undefined;
  const d = device && norm(device.vector) > 0 ? device : undefined;
  if (!s || !d) {
    const only = s ?? d;
    return only ? Float32Array.from(only.vector) : undefined;
  }
  if (s.vector.length !== d.vector.length)
    throw new RangeError(
      `combineEmbeddings: the server's embedding has ${s.vector.length} numbers, the device's ${d.vector.length}`,
    );
  switch (rule.kind) {
    case 'server':
      return Float32Array.from(s.vector);
    case 'device':
      return Float32Array.from(d.vector);
    case 'newest':
      return Float32Array.from(s.updatedAt > d.updatedAt ? s.vector : d.vector);
    case 'sum':
      return normalisedSum(s.vector, d.vector, rule.deviceWeight);
  }
}

/** Checks a rule's parameters (a weight in [0, 1]); returns it. */
export function validCombineRule(rule: CombineRule): CombineRule {
  if (rule.kind === 'sum' && !(rule.deviceWeight >= 0 && rule.deviceWeight <= 1))
    throw new RangeError(`combine rule: deviceWeight must be in [0, 1], got ${rule.deviceWeight}`);
  return rule;
}

function normalisedSum(server: ArrayLike<number>, device: ArrayLike<number>, w: number): Float32Array {
  const ns = norm(server);
  const nd = norm(device);
  const out = new Float64Array(server.length);
  for (let i = 0; i < out.length; i++) out[i] = ((1 - w) * server[i]) / ns + (w * device[i]) / nd;
  const n = norm(out);
  // Opposite directions at w = 0.5 cancel out: no direction is left, so the device's (the newer evidence
  // of what the user does) is served rather than zeros.
  if (!(n > 1e-12)) return Float32Array.from(device, (x) => x / nd);
  return Float32Array.from(out, (x) => x / n);
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/**
 * A rule from its name, as the CLI and the replay's variants spell it: `server`, `device`, `newest`, or a
 * device weight w in [0, 1] for `sum`.
 */
export function parseCombineRule(spec: string): CombineRule {
  if (spec === 'server' || spec === 'device' || spec === 'newest') return { kind: spec };
  const w = spec.trim() === '' ? Number.NaN : Number(spec);
  if (!(w >= 0 && w <= 1))
    throw new RangeError(`combine rule "${spec}": server, device, newest, or a device weight in [0, 1]`);
  return { kind: 'sum', deviceWeight: w };
}

/** A rule's name, the inverse of `parseCombineRule`. */
export function combineRuleName(rule: CombineRule): string {
  return rule.kind === 'sum' ? String(rule.deviceWeight) : rule.kind;
}
