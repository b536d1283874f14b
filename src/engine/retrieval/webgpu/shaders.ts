/**
 * WGSL of the exact top-k retrieval kernels. One call is one submit of:
 *
 * 1. score: one invocation a row (256 a workgroup, no shared memory, no barriers): the row's score under the
 *    reference arithmetic, written as an order-preserving u32 key to `keys` (0 for an excluded row);
 * 2. select: workgroup g reads the keys of the contiguous rows [g·R, (g+1)·R) (R = tiles · TILE; a tile is
 *    TILE = WG · RPT = 1,024 entries, RPT = 4 an invocation) and writes its k best (key, row) entries,
 *    sorted, sentinel-padded;
 * 3. merge, repeated until one workgroup is left: the same selection over the entries of step 2 (each
 *    workgroup reads at least 4,096 entries — several sorted lists of k — and writes one list of k).
 *
 * Selection: each workgroup keeps candidates in workgroup memory (`cand`, CAP entries, CAP = maxK rounded up
 * to WG, plus one TILE: 1,280 entries, 10 KiB, for maxK 256). An entry joins only when it beats the
 * workgroup's threshold (its k-th best so far; none while fewer than k are known) and is not below the call's
 * global threshold (the best k-th-best key any workgroup has published with atomicMax: k entries at or above
 * it exist, so nothing below it can make the top k; ties at it still enter). As soon as k are known, and
 * before a tile could overflow CAP, the candidates are trimmed to the k best by ranking: each entry counts
 * the entries that beat it (the kept ones, sorted, by binary search; the new ones by a broadcast scan), and
 * the k best are written back at their ranks — two barriers, where a bitonic sort of CAP would take ~55.
 * Barriers are what costs on SwiftShader (it runs a workgroup's invocations as coroutines); on a GPU the
 * ranking is a few thousand shared-memory compares an invocation per trim, and trims are rare once the
 * thresholds are up (~k·ln(R/k) candidates a workgroup on random data). Which candidates a workgroup keeps
 * depends on timing (the global threshold), the result never does: the order is total.
 *
 * Scoring is split from selection because SwiftShader compiles a kernel with barriers into coroutines,
 * which made the same dot products ~4× slower (measured: 1M × 64 f32 scored in ~0.4–0.6 s alone, ~2 s
 * inside the barrier loop). On a real GPU the split costs one extra 4-bytes-a-row write and read.
 *
 * Entries are (key, index) with key = the score's f32 bits mapped to an order-preserving u32 (so the
 * comparison is integer and immune to any NaN or fast-math liberty of the compiler): a > b iff a.key > b.key,
 * or equal keys and a.index < b.index — the reference's "higher score first, ties by lower index". Key 0 is
 * the sentinel; a key ≤ NEG_INF_KEY (-Infinity, NaN, excluded) never enters, as in the reference.
 */
import type { ItemDtype } from '../../../core/bundle/index.ts';

/** Invocations per workgroup (WebGPU's default maxComputeInvocationsPerWorkgroup). */
export const WG = 256;
/** Entries each selection invocation reads per tile (a tile = WG · RPT entries between two syncs). */
export const RPT = 4;
/** Entries a selection tile reads. */
export const TILE = WG * RPT;
/** Order-preserving key of -Infinity; valid entries have larger keys. */
export const NEG_INF_KEY = 0x007fffff;
/** Bytes per params slot in the uniform buffer (minUniformBufferOffsetAlignment is at most 256). */
export const PARAMS_STRIDE = 256;
/** Bytes of the Params struct. */
export const PARAMS_BYTES = 32;

export type ScanVariant = 'f32' | 'f16' | 'i8-dot4' | 'i8-manual';

export function scanVariant(dtype: ItemDtype, packedDot: boolean): ScanVariant {
  if (dtype === 'i8') return packedDot ? 'i8-dot4' : 'i8-manual';
  return dtype;
}

/** u32 words of one row of the table in GPU memory (f16: two halves a word, i8: four int8 a word). */
export function rowWords(dtype: ItemDtype, dim: number): number {
  return dtype === 'f32' ? dim : dtype === 'f16' ? Math.ceil(dim / 2) : Math.ceil(dim / 4);
}

/** Candidate capacity of a selection workgroup: maxK rounded up to WG, plus one tile of headroom. */
export function capacityFor(maxK: number): number {
  return Math.ceil(maxK / WG) * WG + TILE;
}

/** Workgroup memory the selection kernel declares: cand (8 bytes an entry), thr and counters (16 each in Dawn). */
export function workgroupBytes(cap: number): number {
  return cap * 8 + 64;
}

const paramsStruct = /* wgsl */ `
struct Params {
  n: u32,        // rows (score, select) or entries (merge) in the input
  tiles: u32,    // select / merge: tiles of TILE entries per workgroup
  k: u32,
  zero: u32,     // always 0 at run time; the compiler cannot know it (see launder)
  hasExcl: u32,
  qscale: f32,   // i8: the query's quantization scale
  pad0: u32,
  pad1: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
`;

const selection = (cap: number) => /* wgsl */ `
const WG: u32 = ${WG}u;
const RPT: u32 = ${RPT}u;
const TILE: u32 = ${TILE}u;
const CAP: u32 = ${cap}u;
const PER_THREAD: u32 = ${cap / WG}u;
const NEG_INF_KEY: u32 = ${NEG_INF_KEY}u;
const SENTINEL = vec2<u32>(0u, 0xffffffffu);
${paramsStruct}
@group(0) @binding(5) var<storage, read_write> outEntries: array<vec2<u32>>;

// The k-th best key any workgroup of this call has proven (k entries at or above it exist), shared by all
// workgroups of every selection pass: an entry below it cannot be in the top k. Cleared before each call.
@group(0) @binding(6) var<storage, read_write> globalThr: atomic<u32>;

var<workgroup> cand: array<vec2<u32>, CAP>;
var<workgroup> candCount: atomic<u32>;
var<workgroup> keptCount: u32;
var<workgroup> trimState: vec2<u32>; // (candidates, kept) for the uniform trim decision
var<workgroup> thr: vec2<u32>;

// a ranks before b: higher key, or equal key and lower index.
fn better(a: vec2<u32>, b: vec2<u32>) -> bool {
  return a.x > b.x || (a.x == b.x && a.y < b.y);
}

// How many of the sorted cand[0, kept) rank before e (binary search).
fn betterKept(e: vec2<u32>, kept: u32) -> u32 {
  var lo = 0u;
  var hi = kept;
  while (lo < hi) {
    let mid = (lo + hi) >> 1u;
    if (better(cand[mid], e)) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo;
}

// How many of the unsorted cand[kept, n) rank before e (every invocation reads the same cand[j]: a broadcast).
fn betterNew(e: vec2<u32>, kept: u32, n: u32) -> u32 {
  var c = 0u;
  for (var j = kept; j < n; j++) { c += select(0u, 1u, better(cand[j], e)); }
  return c;
}

// cand[0, kept) is sorted (best first), cand[kept, n) new. Every entry's final rank is counted (all entries
// are distinct, so the ranks are a permutation of [0, n)), the k best are written back in order, and the
// threshold becomes the k-th best (the sentinel while fewer than k are known). Two barriers, no sort network.
fn trim(n: u32, kept: u32, lid: u32, k: u32) {
  var mine: array<vec2<u32>, PER_THREAD>;
  var rank: array<u32, PER_THREAD>;
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = lid + j * WG;
    rank[j] = 0xffffffffu;
    if (i < n) {
      let e = cand[i];
      mine[j] = e;
      let r = betterNew(e, kept, n);
      if (i < kept) { rank[j] = i + r; } else { rank[j] = r + betterKept(e, kept); }
    }
  }
  workgroupBarrier();
  let keep = min(n, k);
  for (var j = 0u; j < PER_THREAD; j++) {
    let r = rank[j];
    if (r < keep) {
      cand[r] = mine[j];
      if (r == k - 1u) {
        thr = mine[j];
        atomicMax(&globalThr, mine[j].x);
      }
    }
  }
  if (lid == 0u) {
    atomicStore(&candCount, keep);
    keptCount = keep;
    if (keep < k) { thr = SENTINEL; }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let k = params.k;
  if (lid == 0u) {
    atomicStore(&candCount, 0u);
    keptCount = 0u;
    thr = SENTINEL;
  }
  workgroupBarrier();
  let span = params.tiles * TILE;
  let start = wid.x * span;
  let end = min(params.n, start + span);
  // Steps of one entry an invocation until the workgroup knows k (so its first trim is of WG entries,
  // not TILE: ranking costs the square), then RPT entries an invocation between syncs.
  var full = false;
  var pos = start;
  while (pos < end) {
    let reps = select(1u, RPT, full);
    let floor = atomicLoad(&globalThr);
    for (var r = 0u; r < reps; r++) {
      let i = pos + r * WG + lid;
      if (i < end) {
        let e = entry(i);
        if (e.x > NEG_INF_KEY && e.x >= floor && better(e, thr)) {
          cand[atomicAdd(&candCount, 1u)] = e;
        }
      }
    }
    pos += reps * WG;
    workgroupBarrier();
    if (lid == 0u) { trimState = vec2<u32>(atomicLoad(&candCount), keptCount); }
    let st = workgroupUniformLoad(&trimState);
    var kept = st.y;
    // Trim before the next step could overflow CAP, and as soon as k are known (to get a threshold early).
    if (st.x + TILE > CAP || (st.y < k && st.x >= k)) {
      trim(st.x, st.y, lid, k);
      kept = min(st.x, k);
    }
    full = kept >= k;
  }
  if (lid == 0u) { trimState = vec2<u32>(atomicLoad(&candCount), keptCount); }
  let st = workgroupUniformLoad(&trimState);
  let n = st.x;
  if (n > 0u) { trim(n, st.y, lid, k); }
  let keep = min(n, k);
  let base = wid.x * k;
  for (var j = lid; j < k; j += WG) {
    outEntries[base + j] = select(SENTINEL, cand[j], j < keep);
  }
}
`;

export const scoreKeyFn = /* wgsl */ `
// Order-preserving u32 of an f32: negative floats reversed below positive ones. -0 is keyed as +0 (the
// reference compares numerically, so -0 == +0 and the index decides); NaN gets the sentinel 0.
fn scoreKey(s: f32) -> u32 {
  var b = bitcast<u32>(s);
  if ((b & 0x7fffffffu) == 0u) { b = 0u; }
  if ((b & 0x7fffffffu) > 0x7f800000u) { return 0u; }
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}
`;

/**
 * Exactness of f32 / f16 scores: the reference rounds every product and every sum to f32, in dimension
 * order. WGSL lets a compiler contract `s + q * x` into one fused multiply-add (one rounding instead of
 * two), which would change the last bit. Measured on SwiftShader (Chromium 156, the probe in
 * test/browser/retrieval-webgpu.worker.ts): it does not contract — of 8,192 `c + a * b` with
 * c = -round(a·b), none came out nonzero (an FMA would give the exact residual), with the product inline,
 * in a `let`, or laundered; and 8,192 64-term dot products matched Math.fround's bit for bit, plain and
 * laundered. Other drivers may contract, so every product is laundered anyway: its bits XOR
 * `params.zero`, a uniform that is 0 only at run time, so no compiler can fold the XOR and the add must
 * take the product's rounded f32 value. (A bare `bitcast<f32>(bitcast<u32>(p))` is a no-op an optimizer
 * may fold away, after which it could contract again.) Cost measured on SwiftShader: ~5–15% of the score pass.
 */
export const launder = /* wgsl */ `
fn launder(p: f32) -> f32 { return bitcast<f32>(bitcast<u32>(p) ^ params.zero); }
`;

/** How the score kernel reads a row: four words (or floats) a load when the row allows, else one. */
function vectorized(variant: ScanVariant, dim: number): boolean {
  if (variant === 'f32') return dim % 4 === 0;
  return rowWords(variant === 'f16' ? 'f16' : 'i8', dim) % 4 === 0;
}

/** f32 values of the query buffer: f16 rows are padded to whole words, so the query is padded with zeros. */
export function queryFloats(dtype: 'f32' | 'f16', dim: number): number {
  return dtype === 'f32' ? dim : 2 * rowWords('f16', dim);
}

function scoreFunction(variant: ScanVariant, dim: number): string {
  const vec = vectorized(variant, dim);
  if (variant === 'f32') {
    if (vec) {
      const terms = ['x', 'y', 'z', 'w'].map((c) => `s = s + launder(q.${c} * x.${c});`).join('\n    ');
      return /* wgsl */ `
@group(0) @binding(1) var<storage, read> table: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> query: array<vec4<f32>>;
${launder}
fn score(row: u32) -> f32 {
  let base = row * ${dim / 4}u;
  var s = 0.0f;
  for (var v = 0u; v < ${dim / 4}u; v++) {
    let x = table[base + v];
    let q = query[v];
    ${terms}
  }
  return s;
}`;
    }
    return /* wgsl */ `
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> query: array<f32>;
${launder}
fn score(row: u32) -> f32 {
  let base = row * ${dim}u;
  var s = 0.0f;
  for (var d = 0u; d < ${dim}u; d++) {
    s = s + launder(query[d] * table[base + d]);
  }
  return s;
}`;
  }
  const words = rowWords(variant === 'f16' ? 'f16' : 'i8', dim);
  if (variant === 'f16') {
    // unpack2x16float widens a half to f32 exactly (subnormals included: every half is a normal f32); the
    // test suite checks all 63,488 finite bit patterns against the reference's halfToFloat. An odd dim's
    // padding half is 0 and meets a 0 in the padded query: s + 0·0 = s exactly (s is never -0).
    if (vec)
      return /* wgsl */ `
@group(0) @binding(1) var<storage, read> table: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> query: array<vec4<f32>>;
${launder}
fn score(row: u32) -> f32 {
  let base = row * ${words / 4}u;
  var s = 0.0f;
  for (var v = 0u; v < ${words / 4}u; v++) {
    let w = table[base + v];
    let qa = query[2u * v];
    let qb = query[2u * v + 1u];
    let h0 = unpack2x16float(w.x);
    let h1 = unpack2x16float(w.y);
    let h2 = unpack2x16float(w.z);
    let h3 = unpack2x16float(w.w);
    s = s + launder(qa.x * h0.x);
    s = s + launder(qa.y * h0.y);
    s = s + launder(qa.z * h1.x);
    s = s + launder(qa.w * h1.y);
    s = s + launder(qb.x * h2.x);
    s = s + launder(qb.y * h2.y);
    s = s + launder(qb.z * h3.x);
    s = s + launder(qb.w * h3.y);
  }
  return s;
}`;
    return /* wgsl */ `
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read> query: array<f32>;
${launder}
fn score(row: u32) -> f32 {
  let base = row * ${words}u;
  var s = 0.0f;
  for (var w = 0u; w < ${words}u; w++) {
    let x = unpack2x16float(table[base + w]);
    s = s + launder(query[2u * w] * x.x);
    s = s + launder(query[2u * w + 1u] * x.y);
  }
  return s;
}`;
  }
  // i8: the integer dot is exact (|Σ| ≤ dim · 127², exact in f32 up to dim 1040; padding bytes are 0 on
  // both sides); then the reference's two f32 multiplies, in its order: f32(f32(dot) · rowScale) · qScale.
  const idot =
    variant === 'i8-dot4'
      ? 'fn idot(a: u32, b: u32) -> i32 { return dot4I8Packed(a, b); }'
      : `// Without packed_4x8_integer_dot_product: sign-extend each byte with a left then an arithmetic right shift.
fn idot(a: u32, b: u32) -> i32 {
  let x = bitcast<i32>(a);
  let y = bitcast<i32>(b);
  return ((x << 24u) >> 24u) * ((y << 24u) >> 24u) + ((x << 16u) >> 24u) * ((y << 16u) >> 24u)
       + ((x << 8u) >> 24u) * ((y << 8u) >> 24u) + (x >> 24u) * (y >> 24u);
}`;
  const loop = vec
    ? `for (var v = 0u; v < ${words / 4}u; v++) {
    let x = table[base + v];
    let q = query[v];
    acc = acc + idot(q.x, x.x) + idot(q.y, x.y) + idot(q.z, x.z) + idot(q.w, x.w);
  }`
    : `for (var w = 0u; w < ${words}u; w++) {
    acc = acc + idot(query[w], table[base + w]);
  }`;
  const t = vec ? 'vec4<u32>' : 'u32';
  return /* wgsl */ `
@group(0) @binding(1) var<storage, read> table: array<${t}>;
@group(0) @binding(2) var<storage, read> query: array<${t}>;
@group(0) @binding(3) var<storage, read> rowScales: array<f32>;
${idot}
fn score(row: u32) -> f32 {
  let base = row * ${vec ? words / 4 : words}u;
  var acc = 0i;
  ${loop}
  let scaled = f32(acc) * rowScales[row];
  return scaled * params.qscale;
}`;
}

/** The score kernel of one table layout: one invocation a row, dispatched in 2D past 65,535 workgroups. */
export function scoreShader(variant: ScanVariant, dim: number): string {
  return /* wgsl */ `
const WG: u32 = ${WG}u;
${paramsStruct}
@group(0) @binding(4) var<storage, read> excluded: array<u32>;
@group(0) @binding(5) var<storage, read_write> keys: array<u32>;
${scoreKeyFn}
${scoreFunction(variant, dim)}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * WG;
  if (row >= params.n) { return; }
  if (params.hasExcl != 0u && ((excluded[row >> 5u] >> (row & 31u)) & 1u) != 0u) {
    keys[row] = 0u;
    return;
  }
  keys[row] = scoreKey(score(row));
}
`;
}

/** The first selection: the k best of each workgroup's rows, from the score keys. */
export function selectShader(cap: number): string {
  return /* wgsl */ `${selection(cap)}
@group(0) @binding(1) var<storage, read> keys: array<u32>;
fn entry(i: u32) -> vec2<u32> { return vec2<u32>(keys[i], i); }
`;
}

/** The merges: the k best of each workgroup's (key, index) entries. */
export function mergeShader(cap: number): string {
  return /* wgsl */ `${selection(cap)}
@group(0) @binding(1) var<storage, read> inEntries: array<vec2<u32>>;
fn entry(i: u32) -> vec2<u32> { return inEntries[i]; }
`;
}

/** Inverse of scoreKey on the CPU: the score's f32 bits back from a valid key. */
export function keyToBits(key: number): number {
  return key & 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
}
