/**
 * WGSL of the fused score+filter pass, the radix pipeline's `select: 'fused'` mode. It replaces the score
 * pass (which writes a key for every row) and the select's passes over those n keys: each workgroup scores
 * its blocks of rows (the blocked table and the score arithmetic of radix-shaders.ts, bit for bit the
 * reference's) and keeps only rows that can still enter the top-k; the radix select then runs over those
 * few candidates (`histogramShader('candidates')` …), and the sort finishes as in the radix mode.
 *
 * Which rows can still enter: a query's global threshold, a key every workgroup may raise with atomicMax and
 * reads before each block. A workgroup gathers the rows with key ≥ threshold in workgroup memory (LOCAL
 * entries). When that fills, or at the end of its rows, it "trims": if it holds c ≥ k entries, the k-th best
 * key among them is a lower bound of the table's k-th best key (those c rows are distinct rows of the table),
 * so it publishes it (atomicMax) — the threshold is always ≤ the true k-th best key, and a row dropped for
 * key < threshold is never in the top-k; a row whose key equals it is kept (ties at the threshold are
 * resolved by the select's index digits later). Then it keeps the entries ≥ the (possibly raised) threshold
 * and, at the end or if ties still fill the buffer, appends them to the query's candidates with one global
 * atomicAdd. A call with more than CANDIDATES candidates (all-equal scores, say) is detected on the CPU and
 * answered by the full radix passes instead: never a wrong answer.
 *
 * Gathering a block's rows into workgroup memory is a compaction: with the `subgroups` feature, an exclusive
 * prefix sum within each subgroup and one workgroup atomicAdd a subgroup; without it, one workgroup atomicAdd
 * a kept row. The k-th best key of a trim is a radix select in workgroup memory (four 8-bit digits, 256 bins).
 *
 * How many workgroups share a query is chosen per call (see fusedGroups): each ends with about k candidates
 * (its own k best, plus ties), so the candidates stay within CANDIDATES / 2 without ties, whatever the
 * order the GPU runs the workgroups in. The threshold only decides how much work the trims do and how many
 * candidates there are; the result never depends on it.
 */
import { CANDIDATES, params, queryVec4s, rowScoreCode } from './radix-shaders.ts';
import { type ScanVariant, WG } from './shaders.ts';

/** (key, row) entries a workgroup gathers before it trims: 8 kB of workgroup memory. */
export const LOCAL = 1024;
/** Query slots of the query uniform (the radix pipeline's MAX_BATCH). */
const QUERY_SLOTS = 8;

/**
 * Workgroups per query for a call: enough to fill the GPU, few enough that ~k candidates each stay within
 * half of CANDIDATES; never more than there are blocks of rows.
 */
export function fusedGroups(count: number, k: number): number {
  const blocks = Math.ceil(count / WG);
  return Math.max(1, Math.min(blocks, Math.floor(CANDIDATES / (2 * Math.max(1, k))), 65_535));
}

/** The fused kernel: one query a workgroup row (wid.y), `subgroups` for the subgroup compaction. */
export function fusedShader(variant: ScanVariant, dim: number, subgroups: boolean): string {
  const qv = queryVec4s(variant, dim);
  const { decls, body } = rowScoreCode(
    variant,
    dim,
    1,
    { base: () => 'qb', scale: () => 'params.qscale[b >> 2u][b & 3u]' },
    qv * QUERY_SLOTS,
  );
  // Appends (key, row) to the workgroup's entries when keep; every invocation of the workgroup calls it.
  const gather = subgroups
    ? /* wgsl */ `
fn gather(keep: bool, key: u32, row: u32, sgid: u32) {
  let one = select(0u, 1u, keep);
  let before = subgroupExclusiveAdd(one);
  let total = subgroupAdd(one);
  var first = 0u;
  if (sgid == 0u && total > 0u) { first = atomicAdd(&localCount, total); }
  first = subgroupMax(first);
  if (keep) { local[first + before] = vec2<u32>(key, row); }
}`
    : /* wgsl */ `
fn gather(keep: bool, key: u32, row: u32, sgid: u32) {
  if (keep) { local[atomicAdd(&localCount, 1u)] = vec2<u32>(key, row); }
}`;
  return /* wgsl */ `${subgroups ? 'enable subgroups;\n' : ''}${params}${decls}
const LOCAL: u32 = ${LOCAL}u;
const ROOM: u32 = LOCAL - WG;   // a block always fits while the count is at most this
const PER: u32 = LOCAL / WG;
const CAP: u32 = ${CANDIDATES}u;
@group(0) @binding(12) var<storage, read_write> threshold: array<atomic<u32>>;
@group(0) @binding(13) var<storage, read_write> candidateCount: array<atomic<u32>>;
@group(0) @binding(14) var<storage, read_write> candidates: array<vec2<u32>>;

var<workgroup> local: array<vec2<u32>, LOCAL>;
var<workgroup> localCount: atomic<u32>;
var<workgroup> hist: array<atomic<u32>, 256>;
// lid 0's answers, read back uniformly: one variable each, so that no write races a read of the last answer.
var<workgroup> countWord: u32;
var<workgroup> thresholdWord: u32;
var<workgroup> firstWord: u32;
var<workgroup> prefix: u32;
${gather}

/** The count of gathered entries, read by the whole workgroup (after every invocation's appends). */
fn count(lid: u32) -> u32 {
  workgroupBarrier();
  if (lid == 0u) { countWord = atomicLoad(&localCount); }
  return workgroupUniformLoad(&countWord);
}

/** The k-th best key among local[0, c) (c ≥ k): a radix select over four 8-bit digits, most significant first. */
fn kthKey(c: u32, k: u32, lid: u32) -> u32 {
  if (lid == 0u) { prefix = 0u; }
  var needed = k; // lid 0's
  var mask = 0u;
  var p = 0u;
  for (var d = 0u; d < 4u; d++) {
    let shift = 24u - 8u * d;
    atomicStore(&hist[lid], 0u);
    workgroupBarrier();
    for (var j = lid; j < c; j += WG) {
      let key = local[j].x;
      if ((key & mask) == p) { atomicAdd(&hist[(key >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (lid == 0u) {
      // The matching entries number at least needed, so the walk stops at or above bin 0.
      var acc = 0u;
      var bin = 255u;
      loop {
        let h = atomicLoad(&hist[bin]);
        if (acc + h >= needed || bin == 0u) { break; }
        acc += h;
        bin -= 1u;
      }
      needed -= acc;
      prefix |= bin << shift;
    }
    p = workgroupUniformLoad(&prefix);
    mask |= 255u << shift;
  }
  return p;
}

/**
 * Publishes this workgroup's lower bound when it holds c ≥ k entries, then keeps the entries ≥ the query's
 * threshold; returns how many are left.
 */
fn trim(b: u32, c: u32, k: u32, lid: u32) -> u32 {
  if (c >= k) {
    let bound = kthKey(c, k, lid);
    if (lid == 0u) { thresholdWord = max(atomicMax(&threshold[b], bound), bound); }
  } else if (lid == 0u) {
    thresholdWord = atomicLoad(&threshold[b]);
  }
  let t = workgroupUniformLoad(&thresholdWord);
  var mine: array<vec2<u32>, PER>;
  for (var j = 0u; j < PER; j++) {
    let at = lid + j * WG;
    mine[j] = select(vec2<u32>(0u, 0u), local[at], at < c);
  }
  workgroupBarrier();
  if (lid == 0u) { atomicStore(&localCount, 0u); }
  workgroupBarrier();
  for (var j = 0u; j < PER; j++) {
    if (mine[j].x >= t && mine[j].x > NEG_INF_KEY) { local[atomicAdd(&localCount, 1u)] = mine[j]; }
  }
  return count(lid);
}

/** Appends local[0, c) to the query's candidates (slots past CAP are counted, not written: the CPU falls back). */
fn flush(b: u32, c: u32, lid: u32) {
  if (lid == 0u) { firstWord = atomicAdd(&candidateCount[b], c); }
  let first = workgroupUniformLoad(&firstWord);
  for (var j = lid; j < c; j += WG) {
    let at = first + j;
    if (at < CAP) { candidates[b * CAP + at] = local[j]; }
  }
  workgroupBarrier();
  if (lid == 0u) { atomicStore(&localCount, 0u); }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) groups: vec3<u32>${subgroups ? ', @builtin(subgroup_invocation_id) sgid: u32' : ''}) {
  let b = wid.y;
  let n = params.n;
  let k = params.k;
  let qb = b * ${qv}u;
  let exclStart = params.exclOff[b >> 2u][b & 3u];
  let exclEnd = params.exclOff[(b + 1u) >> 2u][(b + 1u) & 3u];
  let blocks = (n + WG - 1u) / WG;
  for (var blk = wid.x; blk < blocks; blk += groups.x) {
    let row = blk * WG + lid;
    var key = 0u;
    if (row < n) {
      ${body}
      key = select(scoreKey(s0), 0u, isExcluded(row, exclStart, exclEnd));
    }
    // Any value read is a proven lower bound; a stale one only keeps more.
    let keep = key > NEG_INF_KEY && key >= atomicLoad(&threshold[b]);
    gather(keep, key, row, ${subgroups ? 'sgid' : '0u'});
    var c = count(lid);
    if (c > ROOM) {
      c = trim(b, c, k, lid);
      // Ties at the bound can leave the buffer full: hand them on (the count decides whether they fit).
      if (c > ROOM) { flush(b, c, lid); }
    }
  }
  let left = count(lid);
  if (left > 0u) { flush(b, trim(b, left, k, lid), lid); }
}
`;
}
