/**
 * WGSL of the radix top-k pipeline, shaped for hardware GPUs. One call (of up to MAX_BATCH queries) is one
 * submit of four compute passes:
 *
 * 1. score: the table is stored blocked (rows in blocks of WG; within a block, word w of every row is
 *    contiguous), so the WG invocations of a workgroup — one a row — read WG neighbouring words (or vec4s)
 *    per step: fully coalesced loads. The queries sit in a uniform buffer (a broadcast on every GPU). Each
 *    row is read once and scored for every query of the batch; its score becomes an order-preserving u32
 *    key (0 for an excluded row: membership is a binary search in the call's sorted excluded indices).
 * 2. select: radix select over the 64-bit order value V = (key, ~index), most significant digit first, 11
 *    bits a digit (2,048 bins): a histogram pass (a workgroup-memory histogram per workgroup, merged with
 *    global atomics) counts the digit of the rows that still match the prefix found so far, then one
 *    workgroup scans the bins from the top and finds the bin of the k-th best row. When that bin holds
 *    exactly the rows still needed, the select is done and the remaining digit passes return at once;
 *    otherwise the next digit refines inside the bin — the key's three digits, then the index's, so even
 *    a table whose scores are all equal ends with exactly k rows (the lowest indices, as the contract says).
 *    V is distinct per row, so the threshold T found is the k-th best V exactly.
 * 3. filter: every row with V ≥ T is appended to the survivors with an atomic counter: exactly min(k, valid
 *    rows) of them, in whatever order the GPU runs.
 * 4. sort: one workgroup ranks the survivors (each counts the survivors that beat it: higher key, or equal
 *    key and lower index) and writes them in order; the k entries are what is read back.
 *
 * The select's work is independent of k (unlike a merge tree's O(n·k)) and every pass but the scan spreads
 * over the whole GPU. In the fused mode (fused-shaders.ts) a fused pass replaces the score pass and the
 * select and filter read its few (key, row) candidates instead of n keys (`SelectSource`). Integer keys make every comparison immune to NaN and fast-math; the score arithmetic is
 * the merge pipeline's (shaders.ts), so scores equal `referenceScores` bit for bit.
 */
import { launder, NEG_INF_KEY, rowWords, type ScanVariant, scoreKeyFn, WG } from './shaders.ts';

/** Queries one score dispatch reads the table for (larger batches run in chunks of this many). */
export const MAX_BATCH = 8;
/** Radix digit width and bins. */
export const DIGIT_BITS = 11;
export const BINS = 1 << DIGIT_BITS;
/** Rows a histogram / filter workgroup covers (grid-stride): enough to amortise flushing 2,048 bins. */
export const ROWS_PER_GROUP = WG * 16;
/** Bytes of the per-call Params uniform; digit uniforms sit DIGIT_STRIDE apart. */
export const RADIX_PARAMS_BYTES = 96;
export const DIGIT_STRIDE = 256;
/** u32 words of one query's select state: (keyPrefix, keyMask, idxPrefix, idxMask), (needed, done, -, -). */
export const STATE_WORDS = 8;

export const params = /* wgsl */ `
struct Params {
  n: u32,
  k: u32,
  zero: u32,        // always 0 at run time; the compiler cannot know it (see launder in shaders.ts)
  pad: u32,
  qscale: array<vec4<f32>, 2>,   // i8: query b's quantization scale
  exclOff: array<vec4<u32>, 3>,  // query b's excluded indices are excl[exclOff[b] .. exclOff[b + 1])
}
@group(0) @binding(0) var<uniform> params: Params;
const WG: u32 = ${WG}u;
const NEG_INF_KEY: u32 = ${NEG_INF_KEY}u;
const BINS: u32 = ${BINS}u;
`;

const digitStruct = /* wgsl */ `
struct Digit {
  word: u32,   // 0: the key, 1: ~index
  shift: u32,
  first: u32,  // 1 for the first digit: the rows still needed are params.k
  pad: u32,
}
@group(0) @binding(1) var<uniform> digit: Digit;
`;

/** One radix digit of the select: which word of V and where. */
export interface DigitPass {
  word: 0 | 1;
  shift: number;
}

/** The digits for a table of `count` rows: the key's 32 bits, then the index's ⌈log2 count⌉ (overlaps are harmless). */
export function digitPlan(count: number): DigitPass[] {
  const digits: DigitPass[] = [
    { word: 0, shift: 21 },
    { word: 0, shift: 10 },
    { word: 0, shift: 0 },
  ];
  const indexBits = Math.max(1, Math.ceil(Math.log2(Math.max(2, count))));
  for (let top = indexBits; top > 0; top -= DIGIT_BITS)
    digits.push({ word: 1, shift: Math.max(0, top - DIGIT_BITS) });
  return digits;
}

/** How the table is stored: in units of one u32 word or of four (a vec4 load), `units` a row. */
export interface BlockedLayout {
  unitWords: 1 | 4;
  units: number;
}

export function blockedLayout(variant: ScanVariant, dim: number): BlockedLayout {
  const words = rowWords(variant === 'f32' ? 'f32' : variant === 'f16' ? 'f16' : 'i8', dim);
  return words % 4 === 0 ? { unitWords: 4, units: words / 4 } : { unitWords: 1, units: words };
}

/** vec4s of one query in the uniform buffer. */
export function queryVec4s(variant: ScanVariant, dim: number): number {
  const words = rowWords(variant === 'f32' ? 'f32' : variant === 'f16' ? 'f16' : 'i8', dim);
  // f32: one float a dimension; f16: two floats a word (padded dims meet zeros); i8: one packed word.
  return Math.ceil((variant === 'f16' ? 2 * words : words) / 4);
}

const xyzw = ['x', 'y', 'z', 'w'];

/** Where the generated score code finds query b's vec4s and its i8 scale (constants, or a run-time query). */
export interface QueryAt {
  /** WGSL u32 expression of query b's first vec4 in the query uniform. */
  base(b: number): string;
  /** WGSL f32 expression of query b's i8 scale. */
  scale(b: number): string;
}

/** Query b of a batch at a constant offset (the batched score kernel). */
const constantQuery = (qv: number): QueryAt => ({
  base: (b) => `${b * qv}u`,
  scale: (b) => `params.qscale[${b >> 2}].${xyzw[b & 3]}`,
});

/**
 * WGSL that scores one row of the blocked table for `batch` queries: the bindings and helpers it needs
 * (`decls`), then, inside a function with `blk`, `lid` and `row` in scope, `body` leaves s0 … s{batch-1},
 * bit for bit the reference's scores. Shared by the radix score kernel and the fused one.
 */
export function rowScoreCode(
  variant: ScanVariant,
  dim: number,
  batch: number,
  at: QueryAt,
  queryVecs: number,
): { decls: string; body: string } {
  const { unitWords, units } = blockedLayout(variant, dim);
  const isI8 = variant === 'i8-dot4' || variant === 'i8-manual';
  const unitType =
    unitWords === 4 ? (variant === 'f32' ? 'vec4<f32>' : 'vec4<u32>') : variant === 'f32' ? 'f32' : 'u32';
  const queryType = isI8 ? 'vec4<u32>' : 'vec4<f32>';
  const bs = Array.from({ length: batch }, (_, b) => b);
  let perUnit = '';
  if (variant === 'f32') {
    perUnit =
      unitWords === 4
        ? bs
            .map((b) => {
              const terms = xyzw.map((c) => `s${b} = s${b} + launder(q${b}.${c} * x.${c});`).join(' ');
              return `let q${b} = query[${at.base(b)} + v]; ${terms}`;
            })
            .join('\n      ')
        : bs
            .map((b) => `s${b} = s${b} + launder(query[${at.base(b)} + (v >> 2u)][v & 3u] * x);`)
            .join('\n      ');
  } else if (variant === 'f16') {
    if (unitWords === 4) {
      const halves =
        'let h0 = unpack2x16float(x.x); let h1 = unpack2x16float(x.y); let h2 = unpack2x16float(x.z); let h3 = unpack2x16float(x.w);';
      const terms = (b: number) =>
        [
          ['a', 'x', 'h0.x'],
          ['a', 'y', 'h0.y'],
          ['a', 'z', 'h1.x'],
          ['a', 'w', 'h1.y'],
          ['c', 'x', 'h2.x'],
          ['c', 'y', 'h2.y'],
          ['c', 'z', 'h3.x'],
          ['c', 'w', 'h3.y'],
        ]
          .map(([q, c, h]) => `s${b} = s${b} + launder(q${q}${b}.${c} * ${h});`)
          .join(' ');
      perUnit = `${halves}\n      ${bs
        .map(
          (b) =>
            `let qa${b} = query[${at.base(b)} + 2u * v]; let qc${b} = query[${at.base(b)} + 2u * v + 1u]; ${terms(b)}`,
        )
        .join('\n      ')}`;
    } else {
      perUnit = `let h = unpack2x16float(x);\n      ${bs
        .map(
          (b) =>
            `s${b} = s${b} + launder(query[${at.base(b)} + (v >> 1u)][(2u * v) & 3u] * h.x); ` +
            `s${b} = s${b} + launder(query[${at.base(b)} + (v >> 1u)][(2u * v + 1u) & 3u] * h.y);`,
        )
        .join('\n      ')}`;
    }
  } else {
    perUnit =
      unitWords === 4
        ? bs
            .map(
              (b) =>
                `let q${b} = query[${at.base(b)} + v]; a${b} = a${b} + idot(q${b}.x, x.x) + idot(q${b}.y, x.y) + idot(q${b}.z, x.z) + idot(q${b}.w, x.w);`,
            )
            .join('\n      ')
        : bs
            .map((b) => `a${b} = a${b} + idot(query[${at.base(b)} + (v >> 2u)][v & 3u], x);`)
            .join('\n      ');
  }
  const init = bs.map((b) => (isI8 ? `var a${b} = 0i;` : `var s${b} = 0.0f;`)).join(' ');
  // i8: the reference's two f32 multiplies in its order, f32(f32(dot) · rowScale) · qScale.
  const finish = isI8
    ? bs.map((b) => `let s${b} = (f32(a${b}) * rowScales[row]) * ${at.scale(b)};`).join('\n    ')
    : '';
  const idot =
    variant === 'i8-dot4'
      ? 'fn idot(a: u32, b: u32) -> i32 { return dot4I8Packed(a, b); }'
      : variant === 'i8-manual'
        ? `fn idot(a: u32, b: u32) -> i32 {
  let x = bitcast<i32>(a);
  let y = bitcast<i32>(b);
  return ((x << 24u) >> 24u) * ((y << 24u) >> 24u) + ((x << 16u) >> 24u) * ((y << 16u) >> 24u)
       + ((x << 8u) >> 24u) * ((y << 8u) >> 24u) + (x >> 24u) * (y >> 24u);
}`
        : '';
  const decls = /* wgsl */ `
@group(0) @binding(2) var<storage, read> table: array<${unitType}>;
@group(0) @binding(3) var<uniform> query: array<${queryType}, ${queryVecs}>;
${isI8 ? '@group(0) @binding(4) var<storage, read> rowScales: array<f32>;' : ''}
@group(0) @binding(5) var<storage, read> excl: array<u32>;
${scoreKeyFn}
${isI8 ? idot : launder}

// Whether row is among the sorted excl[start, end): a binary search; neighbouring rows take the same path.
fn isExcluded(row: u32, start: u32, end: u32) -> bool {
  var lo = start;
  var hi = end;
  while (lo < hi) {
    let mid = (lo + hi) >> 1u;
    if (excl[mid] < row) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo < end && excl[lo] == row;
}
`;
  const body = `// Unit v of this row is at (blk · units + v) · WG + lane: a workgroup's loads are WG neighbours.
    let base = blk * ${units * WG}u + lid;
    ${init}
    for (var v = 0u; v < ${units}u; v++) {
      let x = table[base + v * WG];
      ${perUnit}
    }
    ${finish}`;
  return { decls, body };
}

/** The score kernel for `batch` queries; see the file comment. */
export function radixScoreShader(variant: ScanVariant, dim: number, batch: number): string {
  const qv = queryVec4s(variant, dim);
  const { decls, body } = rowScoreCode(variant, dim, batch, constantQuery(qv), qv * batch);
  const bs = Array.from({ length: batch }, (_, b) => b);
  const store = bs
    .map(
      (b) =>
        `keys[${b}u * n + row] = select(scoreKey(s${b}), 0u, isExcluded(row, params.exclOff[${b >> 2}].${xyzw[b & 3]}, params.exclOff[${(b + 1) >> 2}].${xyzw[(b + 1) & 3]}));`,
    )
    .join('\n    ');
  return /* wgsl */ `${params}${decls}
@group(0) @binding(6) var<storage, read_write> keys: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let n = params.n;
  let blocks = (n + WG - 1u) / WG;
  for (var blk = wid.x; blk < blocks; blk += groups.x) {
    let row = blk * WG + lid;
    if (row >= n) { continue; }
    ${body}
    ${store}
  }
}
`;
}

/**
 * Where the select reads its (key, row) entries: `keys` (the score pass's key of every row, row = position)
 * or `candidates` (the fused pass's compacted (key, row) pairs, CANDIDATES a query, their count apart).
 */
export type SelectSource = 'keys' | 'candidates';

/** Candidates the fused pass may append per query before the call falls back to the full radix passes. */
export const CANDIDATES = 65_536;

/** WGSL that walks this invocation's entries of query b: declarations, then a loop header binding key and row. */
function entries(source: SelectSource): { decls: string; loop: string } {
  if (source === 'keys')
    return {
      decls: `@group(0) @binding(6) var<storage, read> keys: array<u32>;`,
      loop: `let n = params.n;
  for (var i = wid.x * WG + lid; i < n; i += groups.x * WG) {
    let key = keys[b * n + i];
    let row = i;`,
    };
  return {
    decls: `const CAP: u32 = ${CANDIDATES}u;
@group(0) @binding(13) var<storage, read> candidateCount: array<u32>;
@group(0) @binding(14) var<storage, read> candidates: array<vec2<u32>>;`,
    loop: `let m = min(candidateCount[b], CAP);
  for (var i = wid.x * WG + lid; i < m; i += groups.x * WG) {
    let e = candidates[b * CAP + i];
    let key = e.x;
    let row = e.y;`,
  };
}

/** Histogram of one digit over the entries that match the select's prefix so far. */
export function histogramShader(source: SelectSource = 'keys'): string {
  const { decls, loop } = entries(source);
  return /* wgsl */ `${params}${digitStruct}
${decls}
@group(0) @binding(7) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(8) var<storage, read> state: array<vec4<u32>>;
var<workgroup> local: array<atomic<u32>, BINS>;
var<workgroup> doneFlag: u32;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let b = wid.y;
  if (lid == 0u) { doneFlag = state[2u * b + 1u].y; }
  if (workgroupUniformLoad(&doneFlag) != 0u) { return; }
  let st = state[2u * b];
  ${loop}
    let rev = ~row;
    if (key > NEG_INF_KEY && (key & st.y) == st.x && (rev & st.w) == st.z) {
      let v = select(key, rev, digit.word == 1u);
      atomicAdd(&local[(v >> digit.shift) & (BINS - 1u)], 1u);
    }
  }
  workgroupBarrier();
  for (var j = lid; j < BINS; j += WG) {
    let c = atomicLoad(&local[j]);
    if (c != 0u) { atomicAdd(&hist[b * BINS + j], c); }
  }
}
`;
}

/** One workgroup a query: finds the bin of the k-th best row, narrows the prefix, clears the histogram. */
export function scanShader(): string {
  const per = BINS / WG;
  return /* wgsl */ `${params}${digitStruct}
const PER: u32 = ${per}u;
@group(0) @binding(7) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(8) var<storage, read_write> state: array<vec4<u32>>;
var<workgroup> counts: array<u32, BINS>;
var<workgroup> chunk: array<u32, WG>;
var<workgroup> doneFlag: u32;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  if (lid == 0u) { doneFlag = state[2u * b + 1u].y; }
  if (workgroupUniformLoad(&doneFlag) != 0u) { return; }
  // Invocation lid sums PER bins counted from the top (best first) and clears them for the next digit.
  var sum = 0u;
  for (var t = 0u; t < PER; t++) {
    let bin = BINS - 1u - (lid * PER + t);
    let c = atomicExchange(&hist[b * BINS + bin], 0u);
    counts[bin] = c;
    sum += c;
  }
  chunk[lid] = sum;
  workgroupBarrier();
  if (lid != 0u) { return; }
  var needed = select(state[2u * b + 1u].x, params.k, digit.first != 0u);
  var st = state[2u * b];
  var done = 0u;
  var acc = 0u;
  var c = 0u;
  loop {
    if (c >= WG || acc + chunk[c] >= needed) { break; }
    acc += chunk[c];
    c++;
  }
  if (c == WG) {
    // Fewer valid rows than k (only possible on the first digit): the prefix stays empty, all of them survive.
    done = 1u;
  } else {
    var t = 0u;
    var bin = 0u;
    loop {
      bin = BINS - 1u - (c * PER + t);
      if (acc + counts[bin] >= needed) { break; }
      acc += counts[bin];
      t++;
    }
    needed -= acc;
    let m = (BINS - 1u) << digit.shift;
    if (digit.word == 0u) {
      st.x = (st.x & ~m) | (bin << digit.shift);
      st.y |= m;
    } else {
      st.z = (st.z & ~m) | (bin << digit.shift);
      st.w |= m;
    }
    // Every row of the bin is needed: the threshold is the bin's lowest V, and the select is over.
    if (counts[bin] == needed) { done = 1u; }
    state[2u * b] = st;
  }
  state[2u * b + 1u] = vec4<u32>(needed, done, 0u, 0u);
}
`;
}

/** Appends every entry with V ≥ T (T = the prefix found, its unresolved bits zero) to the survivors. */
export function filterShader(maxK: number, source: SelectSource = 'keys'): string {
  const { decls, loop } = entries(source);
  return /* wgsl */ `${params}
const MAXK: u32 = ${maxK}u;
${decls}
@group(0) @binding(8) var<storage, read> state: array<vec4<u32>>;
@group(0) @binding(9) var<storage, read_write> survivorCount: array<atomic<u32>>;
@group(0) @binding(10) var<storage, read_write> survivors: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let b = wid.y;
  let st = state[2u * b];
  ${loop}
    // The index bits above the table's ⌈log2 count⌉ are the same in every ~row: compare the resolved ones only.
    if (key > NEG_INF_KEY && (key > st.x || (key == st.x && (~row & st.w) >= st.z))) {
      let slot = atomicAdd(&survivorCount[b], 1u);
      if (slot < MAXK) { survivors[b * MAXK + slot] = vec2<u32>(key, row); }
    }
  }
}
`;
}

/** One workgroup a query ranks its ≤ k survivors (ties by index) and writes them best first, sentinel-padded. */
export function sortShader(maxK: number): string {
  return /* wgsl */ `${params}
const MAXK: u32 = ${maxK}u;
@group(0) @binding(9) var<storage, read_write> survivorCount: array<atomic<u32>>;
@group(0) @binding(10) var<storage, read_write> survivors: array<vec2<u32>>;
@group(0) @binding(11) var<storage, read_write> sorted: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let k = params.k;
  let m = min(atomicLoad(&survivorCount[b]), k);
  let base = b * MAXK;
  for (var j = lid; j < m; j += WG) {
    let e = survivors[base + j];
    var rank = 0u;
    for (var t = 0u; t < m; t++) {
      let o = survivors[base + t];
      rank += select(0u, 1u, o.x > e.x || (o.x == e.x && o.y < e.y));
    }
    sorted[b * k + rank] = e;
  }
  for (var j = m + lid; j < k; j += WG) { sorted[b * k + j] = vec2<u32>(0u, 0xffffffffu); }
}
`;
}
