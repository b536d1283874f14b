import type { DecodedItemTable, ItemDtype } from '../../../core/bundle/index.ts';
import { quantizeQuery, type TopKResult } from '../../../core/retrieval/index.ts';
import { track } from '../../resources.ts';
import { acquireDevice } from './device.ts';
import { type DeviceLostError, deviceLostError, WebGpuUnavailableError } from './errors.ts';
import { cachedPipeline } from './pipeline-cache.ts';
import {
  capacityFor,
  keyToBits,
  mergeShader,
  NEG_INF_KEY,
  PARAMS_BYTES,
  PARAMS_STRIDE,
  queryFloats,
  rowWords,
  type ScanVariant,
  scanVariant,
  scoreShader,
  selectShader,
  TILE,
  WG,
  workgroupBytes,
} from './shaders.ts';

export interface WebGpuRetrieverOptions {
  /** Use this device (not destroyed by `dispose`); its limits must already fit the table. */
  device?: GPUDevice;
  /** Request the device from this adapter (default: `navigator.gpu.requestAdapter()`). */
  adapter?: GPUAdapter;
  /** Largest k a `topK` call may ask for (default 256; up to 768 within WebGPU's default 16 KiB of
   * workgroup memory, more where the adapter offers more: 2,816 with 32 KiB). */
  maxK?: number;
  /** Use the manual int8 unpacking even when `packed_4x8_integer_dot_product` is there (for tests). */
  forceManualInt8?: boolean;
}

/** Milliseconds of the last `topK` call, from performance.now() on the calling thread. */
export interface RetrievalTimings {
  /** Writing the query, exclusions and pass parameters into GPU buffers, and encoding the passes. */
  upload: number;
  /** Submit → mapAsync resolved: the score, select and merge passes and the copy of the k results. */
  scan: number;
  /** Reading the mapped k indices and scores back into typed arrays. */
  readback: number;
  total: number;
  /** Dispatches: score + select + merges. */
  passes: number;
}

interface Pass {
  /** Rows (score, select) or entries (merge) read. */
  n: number;
  tiles: number;
  /** Workgroups dispatched (x, y). */
  groups: [number, number];
}

interface Buffers {
  table: GPUBuffer;
  rowScales?: GPUBuffer;
  query: GPUBuffer;
  excluded: GPUBuffer;
  params: GPUBuffer;
  keys: GPUBuffer;
  entriesA: GPUBuffer;
  entriesB: GPUBuffer;
  readback: GPUBuffer;
  /** The selection passes' shared threshold (one atomic u32), cleared by each call. */
  threshold: GPUBuffer;
}

interface Pipelines {
  score: GPUComputePipeline;
  select: GPUComputePipeline;
  merge: GPUComputePipeline;
}

/** Static sizes of one retriever: fixed by count and maxK. */
interface Layout {
  selectTiles: number;
  selectGroups: number;
  /** Largest number of passes any k ≤ maxK needs. */
  maxPasses: number;
  aEntries: number;
  bEntries: number;
}

const DEFAULT_MAX_K = 256;
/** Select workgroups aimed for: enough to fill a GPU, few enough that merging their k-lists is cheap. */
const TARGET_SELECT_GROUPS = 256;
/** Entries a merge workgroup reads at least (and at least 8 lists of k). */
const MIN_MERGE_SPAN = 4096;
const MAX_GROUPS_PER_DIM = 65535;

/**
 * Exact top-k retrieval over an item table held in GPU storage buffers: the same scores as
 * `referenceScores` bit for bit, the same top-k as `referenceTopK` (higher score first, ties by the lower
 * index, excluded rows never). The table is uploaded once; each call uploads the query (and exclusion
 * bitset), runs the score, select and merge passes in one submit, and reads back k indices and k scores.
 * See shaders.ts for the kernels.
 */
export class WebGpuRetriever {
  readonly pipeline = 'merge' as const;
  readonly dtype: ItemDtype;
  readonly count: number;
  readonly dim: number;
  readonly maxK: number;
  /** The score kernel in use: f32, f16, i8-dot4 (WGSL dot4I8Packed) or i8-manual. */
  readonly variant: ScanVariant;
  /** Resolves when the device is lost (or destroyed); `topK` then rejects with DeviceLostError. */
  readonly lost: Promise<GPUDeviceLostInfo>;
  /** Milliseconds `create` took in all: device, buffers, table upload, kernels. */
  readonly createMs: number;
  /** Milliseconds of the table upload alone (copy into the mapped storage buffer, unmap). */
  readonly uploadMs: number;
  /** Timings of the last successful `topK`. */
  lastTimings?: RetrievalTimings;

  private lostInfo?: GPUDeviceLostInfo;
  private disposed = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly columnScales?: Float32Array;
  private readonly bindGroups: GPUBindGroup[] = [];

  private constructor(
    table: DecodedItemTable,
    private readonly device: GPUDevice,
    private readonly ownsDevice: boolean,
    maxK: number,
    variant: ScanVariant,
    private readonly buffers: Buffers,
    private readonly pipelines: Pipelines,
    private readonly layout: Layout,
    createMs: number,
    uploadMs: number,
  ) {
    this.dtype = table.dtype;
    this.count = table.count;
    this.dim = table.dim;
    this.maxK = maxK;
    this.variant = variant;
    this.createMs = createMs;
    this.uploadMs = uploadMs;
    if (table.dtype === 'i8')
      this.columnScales = Float32Array.from(table.columnScales ?? new Float32Array(table.dim).fill(1));
    this.lost = device.lost.then((info) => {
      this.lostInfo = info;
      return info;
    });
    track('gpuRetrievers', 1);
    track('gpuBuffers', Object.values(buffers).filter(Boolean).length);
  }

  /**
   * Uploads the table and compiles the kernels. Throws WebGpuUnavailableError when there is no adapter or
   * device, when a limit the table or maxK needs is missing, or when setup fails on the GPU (the caller falls
   * back to the CPU); RangeError for a malformed table or maxK.
   */
  static async create(
    table: DecodedItemTable,
    options: WebGpuRetrieverOptions = {},
  ): Promise<WebGpuRetriever> {
    const started = performance.now();
    const { dtype, count, dim } = table;
    const maxK = options.maxK ?? DEFAULT_MAX_K;
    if (!Number.isInteger(maxK) || maxK < 1)
      throw new RangeError(`maxK must be a positive integer, got ${maxK}`);
    if (!Number.isInteger(count) || count < 0 || !Number.isInteger(dim) || dim < 1)
      throw new RangeError(`bad table shape ${count} × ${dim}`);
    if (table.values.length !== count * dim)
      throw new RangeError(`table has ${table.values.length} values for ${count} × ${dim}`);
    if (dtype === 'i8' && (!table.scales || table.scales.length !== count))
      throw new RangeError('an i8 table needs one scale a row');

    const words = rowWords(dtype, dim);
    const tableBytes = Math.max(16, count * words * 4);
    const cap = capacityFor(maxK);
    const wgBytes = workgroupBytes(cap);
    const layout = planLayout(count, maxK);
    const needStorage = Math.max(tableBytes, layout.aEntries * 8, count * 4);

    const gpu = (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
    // Ask only for what exceeds WebGPU's defaults (128 MiB bindings, 256 MiB buffers, 16 KiB workgroups).
    const { device, ownsDevice } = await acquireDevice(options, {
      minimum: {
        maxStorageBufferBindingSize: needStorage,
        maxBufferSize: needStorage,
        maxComputeWorkgroupStorageSize: wgBytes,
        maxComputeInvocationsPerWorkgroup: WG,
        maxComputeWorkgroupSizeX: WG,
      },
      request: {
        maxStorageBufferBindingSize: Math.max(needStorage, 128 * 2 ** 20),
        maxBufferSize: Math.max(needStorage, 256 * 2 ** 20),
        maxComputeWorkgroupStorageSize: Math.max(wgBytes, 16384),
      },
    });
    const packedDot =
      !options.forceManualInt8 && (gpu?.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? false);
    const variant = scanVariant(dtype, packedDot);

    const created: GPUBuffer[] = [];
    const buffer = (label: string, size: number, usage: number, mapped = false): GPUBuffer => {
      const b = device.createBuffer({
        label,
        size: Math.ceil(size / 16) * 16,
        usage,
        mappedAtCreation: mapped,
      });
      created.push(b);
      return b;
    };
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let scopes = 2;
    try {
      const STORAGE = GPUBufferUsage.STORAGE;
      const uploadStart = performance.now();
      const tableBuf = buffer('edgerec items', tableBytes, STORAGE, true);
      writeTable(table, words, tableBuf.getMappedRange());
      tableBuf.unmap();
      let rowScales: GPUBuffer | undefined;
      if (dtype === 'i8') {
        rowScales = buffer('edgerec item scales', Math.max(4, count * 4), STORAGE, true);
        new Float32Array(rowScales.getMappedRange(), 0, count).set(table.scales!);
        rowScales.unmap();
      }
      const uploadMs = performance.now() - uploadStart;
      const queryBytes = dtype === 'i8' ? words * 4 : queryFloats(dtype, dim) * 4;
      const buffers: Buffers = {
        table: tableBuf,
        rowScales,
        query: buffer('edgerec query', queryBytes, STORAGE | GPUBufferUsage.COPY_DST),
        excluded: buffer('edgerec exclusions', Math.ceil(count / 32) * 4, STORAGE | GPUBufferUsage.COPY_DST),
        params: buffer(
          'edgerec params',
          PARAMS_STRIDE * layout.maxPasses,
          GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        ),
        keys: buffer('edgerec keys', count * 4, STORAGE),
        entriesA: buffer('edgerec entries A', layout.aEntries * 8, STORAGE | GPUBufferUsage.COPY_SRC),
        entriesB: buffer('edgerec entries B', layout.bEntries * 8, STORAGE | GPUBufferUsage.COPY_SRC),
        readback: buffer('edgerec readback', maxK * 8, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
        threshold: buffer('edgerec threshold', 4, STORAGE | GPUBufferUsage.COPY_DST),
      };
      const compile = (code: string, label: string) => cachedPipeline(device, code, label);
      const [score, select, merge] = await Promise.all([
        compile(scoreShader(variant, dim), `edgerec score ${variant}`),
        compile(selectShader(cap), 'edgerec select'),
        compile(mergeShader(cap), 'edgerec merge'),
      ]);
      const validation = await device.popErrorScope();
      const oom = await device.popErrorScope();
      scopes = 0;
      const failure = validation ?? oom;
      if (failure) throw new WebGpuUnavailableError(`WebGPU setup failed: ${failure.message}`);
      return new WebGpuRetriever(
        table,
        device,
        ownsDevice,
        maxK,
        variant,
        buffers,
        { score, select, merge },
        layout,
        performance.now() - started,
        uploadMs,
      );
    } catch (error) {
      while (scopes-- > 0) await device.popErrorScope().catch(() => null);
      for (const b of created) b.destroy();
      if (ownsDevice) device.destroy();
      if (error instanceof WebGpuUnavailableError) throw error;
      throw new WebGpuUnavailableError(`WebGPU setup failed: ${String(error)}`, { cause: error });
    }
  }

  /**
   * The k best rows for `query` (k ≤ maxK), best first, ties by lower index; fewer than k when the table
   * has fewer rows that are not excluded. `exclude` is a bitset (see `exclusionBitset`); words past its end
   * count as 0. Calls are serialized. Rejects with DeviceLostError once the device is lost.
   */
  topK(query: Float32Array, k: number, exclude?: Uint32Array): Promise<TopKResult> {
    const run = this.chain.then(() => this.run(query, k, exclude));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Each query's top-k, one call after another (this pipeline reads the table once a query). */
  topKBatch(
    queries: Float32Array[],
    k: number,
    excludes?: (Uint32Array | undefined)[],
  ): Promise<TopKResult[]> {
    return Promise.all(queries.map((query, i) => this.topK(query, k, excludes?.[i])));
  }

  private async run(query: Float32Array, k: number, exclude?: Uint32Array): Promise<TopKResult> {
    if (this.disposed) throw new Error('WebGpuRetriever: used after dispose()');
    if (this.lostInfo) throw this.lostError();
    if (query.length !== this.dim)
      throw new RangeError(`query has ${query.length} dimensions, the table ${this.dim}`);
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
    if (k > this.maxK) throw new RangeError(`k = ${k} exceeds this retriever's maxK = ${this.maxK}`);
    if (k === 0 || this.count === 0) return { indices: new Int32Array(0), scores: new Float32Array(0) };

    const t0 = performance.now();
    const { device, buffers } = this;
    const queue = device.queue;
    let qscale = 0;
    if (this.columnScales) {
      const q = quantizeQuery(query, this.columnScales);
      const packed = new Int8Array(rowWords('i8', this.dim) * 4);
      packed.set(q.values);
      queue.writeBuffer(buffers.query, 0, packed);
      qscale = q.scale;
    } else {
      const padded = new Float32Array(queryFloats(this.dtype as 'f32' | 'f16', this.dim));
      padded.set(query);
      queue.writeBuffer(buffers.query, 0, padded);
    }
    const hasExcl = exclude !== undefined && exclude.length > 0;
    if (hasExcl) {
      const words = Math.ceil(this.count / 32);
      const bits = new Uint32Array(words);
      bits.set(exclude.length > words ? exclude.subarray(0, words) : exclude);
      queue.writeBuffer(buffers.excluded, 0, bits);
    }
    const passes = this.plan(k);
    const params = new ArrayBuffer(PARAMS_STRIDE * passes.length);
    passes.forEach((pass, p) => {
      const u = new Uint32Array(params, p * PARAMS_STRIDE, PARAMS_BYTES / 4);
      u[0] = pass.n;
      u[1] = pass.tiles;
      u[2] = k;
      u[3] = 0; // zero: see `launder` in shaders.ts
      u[4] = hasExcl ? 1 : 0;
      new Float32Array(params, p * PARAMS_STRIDE + 20, 1)[0] = qscale;
    });
    queue.writeBuffer(buffers.params, 0, params);

    const encoder = device.createCommandEncoder({ label: 'edgerec top-k' });
    encoder.clearBuffer(buffers.threshold);
    const compute = encoder.beginComputePass();
    passes.forEach((pass, p) => {
      compute.setPipeline(
        p === 0 ? this.pipelines.score : p === 1 ? this.pipelines.select : this.pipelines.merge,
      );
      compute.setBindGroup(0, this.bindGroup(p));
      compute.dispatchWorkgroups(pass.groups[0], pass.groups[1]);
    });
    compute.end();
    // The select pass (1) and odd merges write A, even merges write B; the last pass has one workgroup.
    const last = passes.length - 1;
    const result = last % 2 === 1 ? buffers.entriesA : buffers.entriesB;
    encoder.copyBufferToBuffer(result, 0, buffers.readback, 0, k * 8);
    const t1 = performance.now();
    queue.submit([encoder.finish()]);
    try {
      await buffers.readback.mapAsync(GPUMapMode.READ, 0, k * 8);
    } catch (error) {
      if (this.disposed) throw new Error('WebGpuRetriever: disposed during topK', { cause: error });
      throw this.lostError(error);
    }
    const t2 = performance.now();
    const entries = new Uint32Array(buffers.readback.getMappedRange(0, k * 8).slice(0));
    buffers.readback.unmap();
    let found = 0;
    while (found < k && entries[2 * found] > NEG_INF_KEY) found++;
    const indices = new Int32Array(found);
    const bits = new Uint32Array(found);
    for (let i = 0; i < found; i++) {
      bits[i] = keyToBits(entries[2 * i]);
      indices[i] = entries[2 * i + 1];
    }
    const t3 = performance.now();
    this.lastTimings = {
      upload: t1 - t0,
      scan: t2 - t1,
      readback: t3 - t2,
      total: t3 - t0,
      passes: passes.length,
    };
    return { indices, scores: new Float32Array(bits.buffer) };
  }

  /**
   * Destroys the GPU device, as a driver reset or a lost GPU process would: `lost` resolves and later
   * calls reject with DeviceLostError. It exists so the engine's fallback can be exercised for real.
   */
  loseDevice(): void {
    this.device.destroy();
  }

  /** Destroys the buffers, and the device when this retriever created it. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    track('gpuRetrievers', -1);
    track('gpuBuffers', -Object.values(this.buffers).filter(Boolean).length);
    for (const b of Object.values(this.buffers)) b?.destroy();
    if (this.ownsDevice) this.device.destroy();
  }

  /** The dispatches for k: score, select, then merges of the k-lists until one workgroup is left. */
  private plan(k: number): Pass[] {
    const { selectTiles, selectGroups, maxPasses } = this.layout;
    const scoreGroups = Math.ceil(this.count / WG);
    const x = Math.min(scoreGroups, MAX_GROUPS_PER_DIM);
    const passes: Pass[] = [
      { n: this.count, tiles: 0, groups: [x, Math.ceil(scoreGroups / x)] },
      { n: this.count, tiles: selectTiles, groups: [selectGroups, 1] },
    ];
    for (const merge of mergePlan(selectGroups, k)) passes.push({ ...merge, groups: [merge.groups, 1] });
    if (passes.length > maxPasses) throw new Error(`internal: ${passes.length} passes > ${maxPasses}`);
    return passes;
  }

  /** Pass p's bind group (its params slot, its input and output); made once, reused by every call. */
  private bindGroup(p: number): GPUBindGroup {
    const existing = this.bindGroups[p];
    if (existing) return existing;
    const { buffers } = this;
    const params = { buffer: buffers.params, offset: p * PARAMS_STRIDE, size: PARAMS_BYTES };
    let pipeline: GPUComputePipeline;
    let entries: GPUBindGroupEntry[];
    if (p === 0) {
      pipeline = this.pipelines.score;
      entries = [
        { binding: 1, resource: { buffer: buffers.table } },
        { binding: 2, resource: { buffer: buffers.query } },
        { binding: 4, resource: { buffer: buffers.excluded } },
        { binding: 5, resource: { buffer: buffers.keys } },
      ];
      if (buffers.rowScales) entries.push({ binding: 3, resource: { buffer: buffers.rowScales } });
    } else if (p === 1) {
      pipeline = this.pipelines.select;
      entries = [
        { binding: 1, resource: { buffer: buffers.keys } },
        { binding: 5, resource: { buffer: buffers.entriesA } },
      ];
    } else {
      // Even merges read A and write B; odd merges read B and write A.
      pipeline = this.pipelines.merge;
      const [from, to] =
        p % 2 === 0 ? [buffers.entriesA, buffers.entriesB] : [buffers.entriesB, buffers.entriesA];
      entries = [
        { binding: 1, resource: { buffer: from } },
        { binding: 5, resource: { buffer: to } },
      ];
    }
    entries.push({ binding: 0, resource: params });
    if (p > 0) entries.push({ binding: 6, resource: { buffer: buffers.threshold } });
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.bindGroups[p] = group;
    return group;
  }

  private lostError(cause?: unknown): DeviceLostError {
    return deviceLostError(this.lostInfo, cause);
  }
}

function selectTilesFor(count: number): number {
  return Math.max(1, Math.ceil(count / (TILE * TARGET_SELECT_GROUPS)));
}

/** The merge passes after a select pass of `groups` workgroups, for k. */
function mergePlan(groups: number, k: number): { n: number; tiles: number; groups: number }[] {
  const tiles = Math.ceil(Math.max(MIN_MERGE_SPAN, 8 * k) / TILE);
  const merges: { n: number; tiles: number; groups: number }[] = [];
  while (groups > 1) {
    const n = groups * k;
    groups = Math.ceil(n / (tiles * TILE));
    merges.push({ n, tiles, groups });
  }
  return merges;
}

function planLayout(count: number, maxK: number): Layout {
  const selectTiles = selectTilesFor(count);
  const selectGroups = Math.max(1, Math.ceil(count / (selectTiles * TILE)));
  let maxPasses = 2;
  let aEntries = selectGroups * maxK;
  let bEntries = 1;
  for (let k = 1; k <= maxK; k++) {
    const merges = mergePlan(selectGroups, k);
    maxPasses = Math.max(maxPasses, 2 + merges.length);
    // Merge m (0-based) is pass m + 2: even passes write B, odd ones A.
    merges.forEach((merge, m) => {
      if (m % 2 === 0) bEntries = Math.max(bEntries, merge.groups * k);
      else aEntries = Math.max(aEntries, merge.groups * k);
    });
  }
  return { selectTiles, selectGroups, maxPasses, aEntries, bEntries };
}

/** Writes the table's rows into the mapped storage buffer: f32 as is, f16 two a word, i8 four a word. */
function writeTable(table: DecodedItemTable, words: number, range: ArrayBuffer): void {
  const { dtype, count, dim, values } = table;
  if (dtype === 'f32') {
    new Float32Array(range, 0, values.length).set(values as Float32Array);
    return;
  }
  const lanes = dtype === 'f16' ? 2 : 4;
  const target = dtype === 'f16' ? new Uint16Array(range) : new Int8Array(range);
  // Little-endian: lane j of a word is bits 16j.. (f16) or 8j.. (i8), as unpack2x16float and dot4I8Packed
  // read them. Padding lanes of a row stay 0 (mapped buffers start zeroed).
  if (dim % lanes === 0) {
    target.set(values as Uint16Array & Int8Array);
    return;
  }
  const stride = words * lanes;
  for (let r = 0; r < count; r++) target.set(values.subarray(r * dim, (r + 1) * dim) as never, r * stride);
}
