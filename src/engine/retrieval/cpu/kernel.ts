/**
 * The `wasm` backend's kernel (kernel.wat): loading the right binary, laying the item table out in its
 * memory, preparing a query, scanning rows, and the job protocol between threads. Shared by the calling
 * thread (retriever.ts) and the helper workers (worker.ts), which run the same code on the same memory.
 */
import type { DecodedItemTable } from '../../../core/bundle/index.ts';
import { decodeF16 } from '../../../core/quantize/index.ts';
import { type ExclusionBitset, quantizeQuery } from '../../../core/retrieval/index.ts';

/** `relaxed`: i32x4.relaxed_dot_i8x16_i7x16_add_s (one vpdpbusd with AVX-VNNI); `simd`: WASM SIMD 128 only. */
export type KernelFlavor = 'relaxed' | 'simd';

// Literal `new URL(…, import.meta.url)` so that vite copies each binary into a consumer's build.
const KERNEL_URLS: Record<KernelFlavor, { single: URL; shared: URL }> = {
  relaxed: {
    single: new URL('./kernel-relaxed.wasm', import.meta.url),
    shared: new URL('./kernel-relaxed-mt.wasm', import.meta.url),
  },
  simd: {
    single: new URL('./kernel-simd.wasm', import.meta.url),
    shared: new URL('./kernel-simd-mt.wasm', import.meta.url),
  },
};

/** The largest i8 dimension whose integer dot converts to f32 exactly (|dot| ≤ 1024·127·128 < 2^24). */
export const MAX_I8_DIM = 1024;

async function fetchBytes(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  if (url.protocol === 'file:') {
    // Node (unit tests, the CLI): fetch() has no file: scheme there. A variable specifier keeps bundlers out.
    const fs = 'node:fs/promises';
    const { readFile } = (await import(/* @vite-ignore */ fs)) as typeof import('node:fs/promises');
    return new Uint8Array(await readFile(url));
  }
  // A consumer's bundler may inline the small kernels as data: URLs (Vite does below 4 kB), and a fetch()
  // of one is a connect-src request that a strict Content-Security-Policy refuses: decode it here.
  if (url.protocol === 'data:') return decodeDataUrl(url.href);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`edgerec: cannot load ${url.href}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The bytes of a `data:` URL, base64 or percent-encoded (RFC 2397). */
export function decodeDataUrl(href: string): Uint8Array<ArrayBuffer> {
  const comma = href.indexOf(',');
  if (!href.startsWith('data:') || comma < 0) throw new TypeError(`not a data: URL: ${href.slice(0, 40)}`);
  const payload = href.slice(comma + 1);
  if (href.slice(0, comma).endsWith(';base64')) return Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return new TextEncoder().encode(decodeURIComponent(payload)) as Uint8Array<ArrayBuffer>;
}

/**
 * Compiles the best kernel this engine validates and computes correctly (relaxed, else plain SIMD), or
 * returns undefined when WebAssembly SIMD is missing. `flavor` forces one (undefined if it fails).
 */
export async function loadKernel(
  shared: boolean,
  flavor?: KernelFlavor,
): Promise<{ flavor: KernelFlavor; module: WebAssembly.Module } | undefined> {
  if (typeof WebAssembly === 'undefined') return undefined;
  for (const candidate of flavor ? [flavor] : (['relaxed', 'simd'] as const)) {
    const urls = KERNEL_URLS[candidate];
    const single = await fetchBytes(urls.single);
    if (!WebAssembly.validate(single)) continue;
    const module = await WebAssembly.compile(single);
    if (!(await selfTest(module, candidate))) continue;
    if (!shared) return { flavor: candidate, module };
    const bytes = await fetchBytes(urls.shared);
    if (WebAssembly.validate(bytes)) return { flavor: candidate, module: await WebAssembly.compile(bytes) };
  }
  return undefined;
}

/**
 * Runs the i8 scan on four rows of extreme values (±127, -128) and checks the integer dots. Relaxed SIMD
 * is implementation-defined enough that an engine can get it wrong: V8 11.3 (Node 20, behind a flag)
 * doubles i32x4.relaxed_dot_i8x16_i7x16_add_s. An engine that fails uses the plain SIMD kernel.
 */
async function selfTest(module: WebAssembly.Module, flavor: KernelFlavor): Promise<boolean> {
  const dim = 40;
  const count = 4;
  const values = Int8Array.from({ length: count * dim }, (_, i) =>
    i % 7 === 0 ? -128 : i % 5 === 0 ? 127 : ((i * 37) % 255) - 127,
  );
  const query = Float32Array.from({ length: dim }, (_, d) =>
    d % 3 === 0 ? -127 : d % 4 === 0 ? 127 : ((d * 53) % 255) - 127,
  );
  const ones = new Float32Array(dim).fill(1);
  const table: DecodedItemTable = {
    dtype: 'i8',
    count,
    dim,
    values,
    scales: new Float32Array(count).fill(1),
    columnScales: ones,
  };
  const layout = planLayout(table, flavor, 1);
  const pages = Math.ceil(layout.bytes / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  writeTable(memory.buffer, layout, table);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const qscale = writeQuery(memory.buffer, layout, query, ones, undefined);
  const kernel = instance.exports as unknown as KernelExports;
  kernel.begin(-1, layout.heaps[0], count);
  const n = scanRange(kernel, layout, 0, count, qscale);
  if (n !== count || qscale !== 1) return false;
  const heap = layout.heaps[0];
  const scores = new Float32Array(memory.buffer, heap, 2 * count);
  const rows = new Int32Array(memory.buffer, heap, 2 * count);
  for (let i = 0; i < count; i++) {
    const r = rows[2 * i + 1];
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += values[r * dim + d] * query[d];
    if (scores[2 * i] !== dot) return false;
  }
  return true;
}

/** Where everything lives in the kernel's memory (byte offsets, all 64-byte aligned). */
export interface KernelLayout {
  dtype: 'i8' | 'f32';
  flavor: KernelFlavor;
  count: number;
  dim: number;
  /** i8: bytes per row (dim rounded up to 16); f32: dim · 4. */
  stride: number;
  /** Control words (CONTROL): 64 bytes, then one 64-byte slot per helper thread. */
  control: number;
  query: number;
  exclude: number;
  excludeWords: number;
  scales: number;
  rows: number;
  /** One heap per thread, room for `count` entries (pages never touched cost nothing). */
  heaps: number[];
  /** Threads take rows in chunks of this many (a multiple of 16), from the counter CONTROL.NEXT. */
  chunkRows: number;
  chunks: number;
  bytes: number;
}

const align = (n: number, to = 64): number => Math.ceil(n / to) * to;

/** Rows per chunk: ~256 KiB of table (L2-sized), at least 1024 rows, a whole number of f32 blocks. */
function chunkRowsFor(stride: number): number {
  return Math.max(1024, F32_BLOCK * Math.floor(2 ** 18 / stride / F32_BLOCK));
}

/** Rows per block of the f32 layout (kernel.wat, scan_f32); chunks start on a block. */
export const F32_BLOCK = 16;

export function planLayout(table: DecodedItemTable, flavor: KernelFlavor, threads: number): KernelLayout {
  const { count, dim } = table;
  const dtype = table.dtype === 'i8' ? 'i8' : 'f32';
  const padded = align(count, dtype === 'i8' ? 4 : F32_BLOCK);
  const stride = dtype === 'i8' ? align(dim, 16) : dim * 4;
  let at = 0;
  const take = (bytes: number): number => {
    const start = at;
    at = align(at + bytes);
    return start;
  };
  const control = take(64 * threads);
  const query = take(dtype === 'i8' ? (stride / 16) * 32 : dim * 4);
  const excludeWords = Math.ceil(padded / 32);
  const exclude = take(excludeWords * 4);
  const scales = take(dtype === 'i8' ? padded * 4 : 0);
  const rows = take(padded * stride);
  const heaps = Array.from({ length: threads }, () => take(count * 8));
  const chunkRows = chunkRowsFor(stride);
  return {
    dtype,
    flavor,
    count,
    dim,
    stride,
    control,
    query,
    exclude,
    excludeWords,
    scales,
    rows,
    heaps,
    chunkRows,
    chunks: Math.ceil(count / chunkRows),
    bytes: at,
  };
}

export const PAGE = 65536;

/** Copies the table into `buffer` (a memory sized by planLayout, zero-filled) in the kernel's layout. */
export function writeTable(buffer: ArrayBufferLike, layout: KernelLayout, table: DecodedItemTable): void {
  const { count, dim, stride } = layout;
  if (layout.dtype === 'i8') {
    const values = table.values as Int8Array;
    const rows = new Int8Array(buffer, layout.rows, align(count, 4) * stride);
    if (stride === dim) rows.set(values);
    else for (let r = 0; r < count; r++) rows.set(values.subarray(r * dim, (r + 1) * dim), r * stride);
    new Float32Array(buffer, layout.scales, count).set(table.scales!.subarray(0, count));
    return;
  }
  // Blocks of 16 rows, dimension-major: element (16b + l, d) at 64b·dim + 64d + 4l bytes.
  const source = table.dtype === 'f32' ? (table.values as Float32Array) : undefined;
  const out = new Float32Array(buffer, layout.rows, align(count, F32_BLOCK) * dim);
  const chunkRows = 4096;
  for (let r0 = 0; r0 < count; r0 += chunkRows) {
    const r1 = Math.min(count, r0 + chunkRows);
    // f16 is widened a chunk at a time, so the whole table never exists twice as float32.
    const rows = source
      ? source.subarray(r0 * dim, r1 * dim)
      : decodeF16((table.values as Uint16Array).subarray(r0 * dim, r1 * dim));
    for (let r = r0; r < r1; r++) {
      const base = (r - r0) * dim;
      const dst = (r >> 4) * F32_BLOCK * dim + (r & 15);
      for (let d = 0; d < dim; d++) out[dst + F32_BLOCK * d] = rows[base + d];
    }
  }
}

/** Writes the query (and the exclusions) for the next scan; returns the i8 query scale (1 for f32). */
export function writeQuery(
  buffer: ArrayBufferLike,
  layout: KernelLayout,
  query: Float32Array,
  columnScales: Float32Array | undefined,
  exclude: ExclusionBitset | undefined,
): number {
  const { dim } = layout;
  if (exclude) {
    const words = new Uint32Array(buffer, layout.exclude, layout.excludeWords);
    const n = Math.min(exclude.length, words.length);
    words.set(exclude.subarray(0, n));
    words.fill(0, n);
  }
  if (layout.dtype === 'f32') {
    new Float32Array(buffer, layout.query, dim).set(query);
    return 1;
  }
  const q = quantizeQuery(query, columnScales ?? new Float32Array(dim).fill(1));
  const chunks = layout.stride / 16;
  if (layout.flavor === 'simd') {
    // Per 16-value chunk: the values widened to i16 (low eight, then high eight: lanes in order).
    const out = new Int16Array(buffer, layout.query, chunks * 16);
    out.fill(0);
    out.set(q.values);
  } else {
    // Per chunk: q+ = max(q, 0) in 16 bytes, then q- = max(-q, 0).
    const out = new Int8Array(buffer, layout.query, chunks * 32);
    out.fill(0);
    for (let d = 0; d < dim; d++) {
      const v = q.values[d];
      const at = (d >> 4) * 32 + (d & 15);
      if (v > 0) out[at] = v;
      else out[at + 16] = -v;
    }
  }
  return q.scale;
}

export interface KernelExports {
  begin(excl: number, heap: number, k: number): void;
  scan_i8(
    rows: number,
    scales: number,
    stride: number,
    start: number,
    end: number,
    q: number,
    qscale: number,
  ): number;
  scan_f32(rows: number, dim: number, start: number, end: number, q: number): number;
}

/** Starts a query on thread t: its heap emptied, capacity k (1 ≤ k ≤ count). */
export function beginQuery(
  kernel: KernelExports,
  layout: KernelLayout,
  t: number,
  k: number,
  hasExclude: boolean,
): void {
  kernel.begin(hasExclude ? layout.exclude : -1, layout.heaps[t], k);
}

/** Scans rows [start, end) (start a multiple of 4, of 16 for f32) into the thread's heap; returns its size. */
export function scanRange(
  kernel: KernelExports,
  layout: KernelLayout,
  start: number,
  end: number,
  qscale: number,
): number {
  return layout.dtype === 'i8'
    ? kernel.scan_i8(layout.rows, layout.scales, layout.stride, start, end, layout.query, qscale)
    : kernel.scan_f32(layout.rows, layout.dim, start, end, layout.query);
}

/**
 * Takes chunks from the shared counter until none is left (so a thread that starts late, or runs slow,
 * simply does less); returns the heap's size. Each thread's chunks come in increasing order.
 */
export function scanChunks(
  kernel: KernelExports,
  layout: KernelLayout,
  ctl: Int32Array,
  qscale: number,
): number {
  const { chunkRows, chunks, count } = layout;
  let size = 0;
  for (;;) {
    const c = Atomics.add(ctl, CONTROL.NEXT, 1);
    if (c >= chunks) return size;
    size = scanRange(kernel, layout, c * chunkRows, Math.min(count, (c + 1) * chunkRows), qscale);
  }
}

/**
 * The job protocol between the calling thread and its helpers: Int32 words at layout.control, then
 * 16 words (64 bytes) per helper h at 16·h: [STATE] and [SIZE]. For job number n (tag = 4·(n mod 2^28)):
 * the caller writes the query and the words, sets every STATE to tag, NEXT to 0, then SEQ to n (notify).
 * A helper that wakes claims the job with compareExchange(STATE, tag, tag + JOINED), scans chunks, writes
 * SIZE and sets tag + DONE (notify). When no chunk is left, the caller closes each helper's job with
 * compareExchange(STATE, tag, tag + CLOSED): a helper that had not joined yet then never does (it was
 * asleep, or descheduled, and the caller did its share), and one that joined is waited for.
 */
export const CONTROL = { SEQ: 0, OP: 1, K: 2, EXCL: 3, QSCALE: 4, NEXT: 5, STATE: 0, SIZE: 1 } as const;
export const JOB = { JOINED: 1, CLOSED: 2, DONE: 3 } as const;
export const jobTag = (seq: number): number => (seq & 0x0fffffff) * 4;
export const OP_SCAN = 1;
export const OP_STOP = 2;

export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  layout: KernelLayout;
  /** 1 ≤ thread < threads. */
  thread: number;
}

export type WorkerReply = { ready: true } | { ready: false; error: string };
