import type { DecodedItemTable, ItemDtype } from '../../../core/bundle/index.ts';
import { quantizeQuery, type TopKResult } from '../../../core/retrieval/index.ts';
import { track } from '../../resources.ts';
import { acquireDevice } from './device.ts';
import { type DeviceLostError, deviceLostError, WebGpuUnavailableError } from './errors.ts';
import { cachedPipeline } from './pipeline-cache.ts';
import {
  BINS,
  blockedLayout,
  CANDIDATES,
  DIGIT_STRIDE,
  type DigitPass,
  digitPlan,
  filterShader,
  histogramShader,
  MAX_BATCH,
  queryVec4s,
  RADIX_PARAMS_BYTES,
  ROWS_PER_GROUP,
  radixScoreShader,
  STATE_WORDS,
  scanShader,
  sortShader,
} from './radix-shaders.ts';
import type { RetrievalTimings } from './retriever.ts';
import { keyToBits, NEG_INF_KEY, rowWords, type ScanVariant, scanVariant, WG } from './shaders.ts';

export interface RadixRetrieverOptions {
  /** Use this device (not destroyed by `dispose`); its limits must already fit the table. */
  device?: GPUDevice;
  /** Request the device from this adapter (default: `navigator.gpu.requestAdapter({ powerPreference: 'high-performance' })`). */
  adapter?: GPUAdapter;
  /** Largest k a call may ask for (default 256). */
  maxK?: number;
  /** Use the manual int8 unpacking even when `packed_4x8_integer_dot_product` is there (for tests). */
  forceManualInt8?: boolean;
  /** Readback buffers in the ring: calls in flight at once before the next waits (default 3). */
  ring?: number;
  /**
   * How rows are selected (default `radix`): `radix` scores every row into a key, then radix passes over
   * the n keys; `fused` scores and drops, in one pass, every row below a running threshold, then the radix
   * passes run over the few candidates (fused-shaders.ts). Both exact; `fused` falls back to `radix` for a
   * call whose candidates overflow.
   */
  select?: RadixSelect;
  /** `fused`: compact with subgroup operations where the device has `subgroups` (default true; false: workgroup atomics). */
  subgroups?: boolean;
}

export type RadixSelect = 'radix' | 'fused';

/** GPU milliseconds of each pass of the last call, from `timestamp-query` (absent without the feature). */
export interface GpuPassTimes {
  /** Reading the table and writing the keys (every query of the batch at once). */
  score: number;
  /** The radix digits: histograms and scans. */
  select: number;
  filter: number;
  sort: number;
  /** Table bytes read by the score pass divided by its time: GB/s (10⁹ bytes). */
  scoreGBps: number;
}

/** Timings of the last call, as RetrievalTimings, plus the GPU's own per-pass times where it reports them. */
export interface RadixTimings extends RetrievalTimings {
  /** Queries answered by the call. */
  queries: number;
  gpu?: GpuPassTimes;
  /** Fused mode: the candidates each query's fused pass kept (what the select then ran over). */
  candidates?: number[];
}

interface Pipelines {
  histogram: GPUComputePipeline;
  scan: GPUComputePipeline;
  filter: GPUComputePipeline;
  sort: GPUComputePipeline;
  /** The fused mode's: the fused pass, and the histogram and filter over its candidates. */
  fused?: {
    pass: GPUComputePipeline;
    histogram: GPUComputePipeline;
    filter: GPUComputePipeline;
    /** Workgroups a query of the fused pass gets for a call of k (fusedGroups). */
    groups: (count: number, k: number) => number;
  };
}

interface Slot {
  buffer: GPUBuffer;
  /** Settles once the slot's last call has read its results and unmapped. */
  busy: Promise<unknown>;
}

interface Buffers {
  table: GPUBuffer;
  rowScales?: GPUBuffer;
  params: GPUBuffer;
  digits: GPUBuffer;
  query: GPUBuffer;
  keys: GPUBuffer;
  hist: GPUBuffer;
  state: GPUBuffer;
  survivorCount: GPUBuffer;
  survivors: GPUBuffer;
  sorted: GPUBuffer;
  resolve?: GPUBuffer;
  /** The fused mode's: per query, the running threshold, the candidate count and CANDIDATES entries. */
  threshold?: GPUBuffer;
  candidateCount?: GPUBuffer;
  candidates?: GPUBuffer;
}

const DEFAULT_MAX_K = 256;
/** Workgroups of a select pass over the fused candidates (CANDIDATES at most, grid-stride). */
const CANDIDATE_GROUPS = 4;
/** A readback slot: the results, the timestamps, the fused mode's candidate counts. */
const readbackBytes = (maxK: number) => MAX_BATCH * maxK * 8 + TIMESTAMPS * 8 + MAX_BATCH * 4;
const DEFAULT_RING = 3;
const MAX_GROUPS = 65535;
/** Timestamps a call writes: begin and end of the four passes. */
const TIMESTAMPS = 8;

/**
 * Exact top-k over an item table on the GPU, built for hardware adapters: a blocked (coalesced) table, a
 * radix select instead of a merge tree, sparse exclusions, a ring of readback buffers so calls overlap, and
 * batches of queries that read the table once. Same contract as WebGpuRetriever: the same scores as
 * `referenceScores` bit for bit and the same top-k as `referenceTopK` (ties by the lower index, excluded
 * rows never). See radix-shaders.ts for the passes.
 */
export class RadixGpuRetriever {
  readonly pipeline = 'radix' as const;
  readonly dtype: ItemDtype;
  readonly count: number;
  readonly dim: number;
  readonly maxK: number;
  /** Queries one dispatch scores per table read (MAX_BATCH, fewer when the keys would not fit a binding). */
  readonly maxBatch: number;
  readonly variant: ScanVariant;
  /** Bytes of the table in GPU memory (blocked, padded to whole blocks): what a score pass reads. */
  readonly tableBytes: number;
  /** Whether calls report GPU pass times (the device has `timestamp-query`). */
  readonly timestamps: boolean;
  readonly select: RadixSelect;
  /** How the fused pass compacts kept rows: `subgroup` operations or workgroup `atomic`s (absent in radix mode). */
  readonly compaction?: 'subgroup' | 'atomic';
  /** Fused calls whose candidates overflowed and were answered by the radix passes instead. */
  fallbacks = 0;
  readonly lost: Promise<GPUDeviceLostInfo>;
  readonly createMs: number;
  readonly uploadMs: number;
  lastTimings?: RadixTimings;

  private lostInfo?: GPUDeviceLostInfo;
  private disposed = false;
  private submitChain: Promise<unknown> = Promise.resolve();
  private nextSlot = 0;
  private readonly slots: Slot[];
  private readonly digits: DigitPass[];
  private readonly columnScales?: Float32Array;
  private readonly scorePipelines = new Map<number, Promise<GPUComputePipeline>>();
  private readonly scoreGroups = new Map<number, GPUBindGroup>();
  private readonly passGroups: {
    histogram: GPUBindGroup[];
    scan: GPUBindGroup[];
    filter: GPUBindGroup;
    sort: GPUBindGroup;
    fusedHistogram?: GPUBindGroup[];
    fusedFilter?: GPUBindGroup;
  };
  private fusedGroup?: GPUBindGroup;
  private excl: GPUBuffer;
  private exclCapacity: number;
  private readonly retired: GPUBuffer[] = [];
  private readonly querySet?: GPUQuerySet;

  private constructor(
    table: DecodedItemTable,
    private readonly device: GPUDevice,
    private readonly ownsDevice: boolean,
    maxK: number,
    maxBatch: number,
    variant: ScanVariant,
    private readonly buffers: Buffers,
    private readonly pipelines: Pipelines,
    slots: GPUBuffer[],
    tableBytes: number,
    createMs: number,
    uploadMs: number,
    subgroups: boolean,
  ) {
    this.dtype = table.dtype;
    this.count = table.count;
    this.dim = table.dim;
    this.maxK = maxK;
    this.maxBatch = maxBatch;
    this.variant = variant;
    this.tableBytes = tableBytes;
    this.createMs = createMs;
    this.uploadMs = uploadMs;
    this.digits = digitPlan(table.count);
    this.slots = slots.map((buffer) => ({ buffer, busy: Promise.resolve() }));
    if (table.dtype === 'i8')
      this.columnScales = Float32Array.from(table.columnScales ?? new Float32Array(table.dim).fill(1));
    this.timestamps = device.features.has('timestamp-query');
    this.select = pipelines.fused ? 'fused' : 'radix';
    if (pipelines.fused) this.compaction = subgroups ? 'subgroup' : 'atomic';
    if (this.timestamps) this.querySet = device.createQuerySet({ type: 'timestamp', count: TIMESTAMPS });
    this.exclCapacity = 4;
    this.excl = device.createBuffer({
      label: 'edgerec excluded rows',
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    const digitData = new ArrayBuffer(DIGIT_STRIDE * this.digits.length);
    this.digits.forEach((d, i) => {
      new Uint32Array(digitData, i * DIGIT_STRIDE, 4).set([d.word, d.shift, i === 0 ? 1 : 0, 0]);
    });
    device.queue.writeBuffer(buffers.digits, 0, digitData);
    this.passGroups = this.makePassGroups();
    this.lost = device.lost.then((info) => {
      this.lostInfo = info;
      return info;
    });
    track('gpuRetrievers', 1);
    track('gpuBuffers', this.ownedBuffers().length);
  }

  /**
   * Uploads the table (blocked) and compiles the kernels. Throws WebGpuUnavailableError when there is no
   * adapter or device, when a limit the table or maxK needs is missing, or when setup fails on the GPU;
   * RangeError for a malformed table or maxK.
   */
  static async create(
    table: DecodedItemTable,
    options: RadixRetrieverOptions = {},
  ): Promise<RadixGpuRetriever> {
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
    const ring = options.ring ?? DEFAULT_RING;
    const fused = options.select === 'fused';
    if (options.select !== undefined && options.select !== 'radix' && !fused)
      throw new RangeError(`select must be 'radix' or 'fused', got ${String(options.select)}`);
    const wantSubgroups = fused && options.subgroups !== false;
    if (!Number.isInteger(ring) || ring < 1)
      throw new RangeError(`ring must be a positive integer, got ${ring}`);

    const words = rowWords(dtype, dim);
    const blocks = Math.ceil(count / WG);
    const tableBytes = Math.max(16, blocks * WG * words * 4);
    const gpu = (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
    const packedDot =
      !options.forceManualInt8 && (gpu?.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? false);
    const variant = scanVariant(dtype, packedDot);
    const queryBytes = queryVec4s(variant, dim) * 16 * MAX_BATCH;
    // Storage needed with one query a batch; more queries a batch only where the keys still fit.
    const needStorage = Math.max(tableBytes, count * 4, MAX_BATCH * maxK * 8);
    // Batches of queries want room for their keys; ask for what the adapter has, up to 8 tables of keys.
    const { device, ownsDevice } = await acquireDevice(options, {
      minimum: {
        maxStorageBufferBindingSize: needStorage,
        maxBufferSize: needStorage,
        maxUniformBufferBindingSize: queryBytes,
        maxComputeInvocationsPerWorkgroup: WG,
        maxComputeWorkgroupSizeX: WG,
      },
      request: {
        maxStorageBufferBindingSize: Math.max(needStorage, 128 * 2 ** 20),
        maxBufferSize: Math.max(needStorage, 256 * 2 ** 20),
      },
      // 'subgroups' is missing from this @webgpu/types' GPUFeatureName; Chromium has it since 128.
      optionalFeatures: ['timestamp-query', ...(wantSubgroups ? ['subgroups' as GPUFeatureName] : [])],
    });
    const subgroups = wantSubgroups && device.features.has('subgroups');
    const bindingLimit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const maxBatch = Math.max(1, Math.min(MAX_BATCH, Math.floor(bindingLimit / Math.max(4, count * 4))));

    const created: GPUBuffer[] = [];
    const buffer = (label: string, size: number, usage: number, mapped = false): GPUBuffer => {
      const b = device.createBuffer({
        label,
        size: Math.max(16, Math.ceil(size / 16) * 16),
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
      const COPY_DST = GPUBufferUsage.COPY_DST;
      const uploadStart = performance.now();
      const tableBuf = buffer('edgerec items (blocked)', tableBytes, STORAGE, true);
      writeBlocked(table, variant, tableBuf.getMappedRange());
      tableBuf.unmap();
      let rowScales: GPUBuffer | undefined;
      if (dtype === 'i8') {
        rowScales = buffer('edgerec item scales', count * 4, STORAGE, true);
        new Float32Array(rowScales.getMappedRange(), 0, count).set(table.scales!);
        rowScales.unmap();
      }
      const uploadMs = performance.now() - uploadStart;
      const timestamps = device.features.has('timestamp-query');
      const resultBytes = MAX_BATCH * maxK * 8;
      const buffers: Buffers = {
        table: tableBuf,
        rowScales,
        params: buffer('edgerec radix params', RADIX_PARAMS_BYTES, GPUBufferUsage.UNIFORM | COPY_DST),
        digits: buffer(
          'edgerec radix digits',
          DIGIT_STRIDE * digitPlan(count).length,
          GPUBufferUsage.UNIFORM | COPY_DST,
        ),
        query: buffer('edgerec queries', queryBytes, GPUBufferUsage.UNIFORM | COPY_DST),
        keys: buffer('edgerec keys', maxBatch * count * 4, STORAGE),
        hist: buffer('edgerec histogram', MAX_BATCH * BINS * 4, STORAGE),
        state: buffer('edgerec select state', MAX_BATCH * STATE_WORDS * 4, STORAGE | COPY_DST),
        survivorCount: buffer('edgerec survivor count', MAX_BATCH * 4, STORAGE | COPY_DST),
        survivors: buffer('edgerec survivors', resultBytes, STORAGE),
        sorted: buffer('edgerec sorted', resultBytes, STORAGE | GPUBufferUsage.COPY_SRC),
        resolve: timestamps
          ? buffer(
              'edgerec timestamps',
              TIMESTAMPS * 8,
              GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
            )
          : undefined,
      };
      if (fused) {
        buffers.threshold = buffer('edgerec fused thresholds', MAX_BATCH * 4, STORAGE | COPY_DST);
        buffers.candidateCount = buffer(
          'edgerec fused candidate counts',
          MAX_BATCH * 4,
          STORAGE | COPY_DST | GPUBufferUsage.COPY_SRC,
        );
        buffers.candidates = buffer('edgerec fused candidates', MAX_BATCH * CANDIDATES * 8, STORAGE);
      }
      const slots = Array.from({ length: ring }, (_, i) =>
        buffer(`edgerec readback ${i}`, readbackBytes(maxK), GPUBufferUsage.MAP_READ | COPY_DST),
      );
      const compile = (code: string, label: string) => cachedPipeline(device, code, label);
      // The fused kernel is its own chunk: a retriever in radix mode never loads it.
      const fusedModule = fused ? await import('./fused-shaders.ts') : undefined;
      const [histogram, scan, filter, sort, ...fusedPipelines] = await Promise.all([
        compile(histogramShader(), 'edgerec radix histogram'),
        compile(scanShader(), 'edgerec radix scan'),
        compile(filterShader(maxK), 'edgerec radix filter'),
        compile(sortShader(maxK), 'edgerec radix sort'),
        ...(fusedModule
          ? [
              compile(fusedModule.fusedShader(variant, dim, subgroups), `edgerec fused ${variant}`),
              compile(histogramShader('candidates'), 'edgerec fused histogram'),
              compile(filterShader(maxK, 'candidates'), 'edgerec fused filter'),
            ]
          : []),
      ]);
      const fusedSet = fusedModule
        ? {
            pass: fusedPipelines[0],
            histogram: fusedPipelines[1],
            filter: fusedPipelines[2],
            groups: fusedModule.fusedGroups,
          }
        : undefined;
      const retriever = new RadixGpuRetriever(
        table,
        device,
        ownsDevice,
        maxK,
        maxBatch,
        variant,
        buffers,
        { histogram, scan, filter, sort, fused: fusedSet },
        slots,
        tableBytes,
        0,
        uploadMs,
        subgroups,
      );
      created.length = 0; // the retriever owns them now
      try {
        await retriever.scorePipeline(1);
        const validation = await device.popErrorScope();
        const oom = await device.popErrorScope();
        scopes = 0;
        const failure = validation ?? oom;
        if (failure) throw new WebGpuUnavailableError(`WebGPU setup failed: ${failure.message}`);
      } catch (error) {
        retriever.dispose();
        throw error;
      }
      (retriever as { createMs: number }).createMs = performance.now() - started;
      return retriever;
    } catch (error) {
      while (scopes-- > 0) await device.popErrorScope().catch(() => null);
      for (const b of created) b.destroy();
      if (ownsDevice) device.destroy();
      if (error instanceof WebGpuUnavailableError) throw error;
      throw new WebGpuUnavailableError(`WebGPU setup failed: ${String(error)}`, { cause: error });
    }
  }

  /**
   * The k best rows for `query` (k ≤ maxK), best first, ties by lower index; fewer when fewer rows are not
   * excluded. `exclude` is a bitset (see `exclusionBitset`; words past its end count as 0): only the indices
   * of its set bits go to the GPU. Calls overlap up to the ring's size; each gets its own answer.
   */
  async topK(query: Float32Array, k: number, exclude?: Uint32Array): Promise<TopKResult> {
    return (await this.topKBatch([query], k, exclude ? [exclude] : undefined))[0];
  }

  /**
   * The k best rows for each query, as `topK` would give them one by one; up to `maxBatch` queries share
   * one read of the table. `excludes[i]` (optional) is query i's bitset.
   */
  topKBatch(
    queries: Float32Array[],
    k: number,
    excludes?: (Uint32Array | undefined)[],
  ): Promise<TopKResult[]> {
    if (this.disposed) return Promise.reject(new Error('RadixGpuRetriever: used after dispose()'));
    if (this.lostInfo) return Promise.reject(this.lostError());
    for (const q of queries)
      if (q.length !== this.dim)
        return Promise.reject(new RangeError(`query has ${q.length} dimensions, the table ${this.dim}`));
    if (!Number.isInteger(k) || k < 0)
      return Promise.reject(new RangeError(`k must be a non-negative integer, got ${k}`));
    if (k > this.maxK)
      return Promise.reject(new RangeError(`k = ${k} exceeds this retriever's maxK = ${this.maxK}`));
    if (excludes && excludes.length !== queries.length)
      return Promise.reject(
        new RangeError(`${excludes.length} exclusion sets for ${queries.length} queries`),
      );
    if (k === 0 || this.count === 0)
      return Promise.resolve(
        queries.map(() => ({ indices: new Int32Array(0), scores: new Float32Array(0) })),
      );
    const chunks: Promise<TopKResult[]>[] = [];
    for (let i = 0; i < queries.length; i += this.maxBatch) {
      const end = Math.min(queries.length, i + this.maxBatch);
      chunks.push(this.enqueue(queries.slice(i, end), k, excludes?.slice(i, end), this.select));
    }
    return Promise.all(chunks).then((parts) => parts.flat());
  }

  /** Destroys the GPU device, as a driver reset would (see WebGpuRetriever.loseDevice). */
  loseDevice(): void {
    this.device.destroy();
  }

  /** Destroys the buffers, and the device when this retriever created it. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const owned = this.ownedBuffers();
    track('gpuRetrievers', -1);
    track('gpuBuffers', -owned.length);
    for (const b of [...owned, ...this.retired]) b.destroy();
    this.querySet?.destroy();
    if (this.ownsDevice) this.device.destroy();
  }

  private ownedBuffers(): GPUBuffer[] {
    return [
      ...Object.values(this.buffers).filter((b): b is GPUBuffer => !!b),
      ...this.slots.map((s) => s.buffer),
      this.excl,
    ];
  }

  /** Submissions go in call order; a call waits for its ring slot, then only for its own readback. */
  private enqueue(
    queries: Float32Array[],
    k: number,
    excludes: (Uint32Array | undefined)[] | undefined,
    mode: RadixSelect,
  ): Promise<TopKResult[]> {
    const submitted = this.submitChain.then(() => this.submit(queries, k, excludes, mode));
    this.submitChain = submitted.catch(() => undefined);
    return submitted.then((done) => done());
  }

  private async submit(
    queries: Float32Array[],
    k: number,
    excludes: (Uint32Array | undefined)[] | undefined,
    mode: RadixSelect,
  ): Promise<() => Promise<TopKResult[]>> {
    const slot = this.slots[this.nextSlot];
    this.nextSlot = (this.nextSlot + 1) % this.slots.length;
    await slot.busy.catch(() => undefined);
    if (this.disposed) throw new Error('RadixGpuRetriever: used after dispose()');
    if (this.lostInfo) throw this.lostError();
    const batch = queries.length;
    const fused = mode === 'fused' ? this.pipelines.fused : undefined;
    const pipeline = fused ? fused.pass : await this.scorePipeline(batch);
    const t0 = performance.now();
    const { device, buffers } = this;
    const queue = device.queue;

    const qv = queryVec4s(this.variant, this.dim);
    const params = new ArrayBuffer(RADIX_PARAMS_BYTES);
    const head = new Uint32Array(params, 0, 4);
    head.set([this.count, k, 0, 0]);
    const qscale = new Float32Array(params, 16, 8);
    const exclOff = new Uint32Array(params, 48, 12);
    const queryData = new ArrayBuffer(qv * 16 * batch);
    queries.forEach((query, b) => {
      if (this.columnScales) {
        const q = quantizeQuery(query, this.columnScales);
        new Int8Array(queryData, b * qv * 16, q.values.length).set(q.values);
        qscale[b] = q.scale;
      } else {
        new Float32Array(queryData, b * qv * 16, query.length).set(query);
      }
    });
    queue.writeBuffer(buffers.query, 0, queryData);
    const lists = queries.map((_, b) => excludedRows(excludes?.[b], this.count));
    let total = 0;
    lists.forEach((rows, b) => {
      exclOff[b] = total;
      total += rows.length;
    });
    for (let b = batch; b <= MAX_BATCH; b++) exclOff[b] = total;
    if (total > 0) {
      this.ensureExclusionCapacity(total);
      const all = new Uint32Array(total);
      for (const [b, rows] of lists.entries()) all.set(rows, exclOff[b]);
      queue.writeBuffer(this.excl, 0, all);
    }
    queue.writeBuffer(buffers.params, 0, params);

    const encoder = device.createCommandEncoder({ label: 'edgerec radix top-k' });
    encoder.clearBuffer(buffers.state, 0, batch * STATE_WORDS * 4);
    encoder.clearBuffer(buffers.survivorCount);
    if (fused) {
      encoder.clearBuffer(buffers.threshold!);
      encoder.clearBuffer(buffers.candidateCount!);
    }
    const pass = (index: number): GPUComputePassEncoder =>
      encoder.beginComputePass(
        this.querySet
          ? {
              timestampWrites: {
                querySet: this.querySet,
                beginningOfPassWriteIndex: 2 * index,
                endOfPassWriteIndex: 2 * index + 1,
              },
            }
          : {},
      );
    const blocks = Math.ceil(this.count / WG);
    const rowGroups = Math.min(MAX_GROUPS, Math.ceil(this.count / ROWS_PER_GROUP));
    let dispatches = 0;
    // The select's passes run over n keys, or over the fused pass's ≤ CANDIDATES candidates.
    const selectGroups = fused ? CANDIDATE_GROUPS : rowGroups;
    const histogramPipeline = fused ? fused.histogram : this.pipelines.histogram;
    const histogramGroups = fused ? this.passGroups.fusedHistogram! : this.passGroups.histogram;
    const score = pass(0);
    score.setPipeline(pipeline);
    if (fused) {
      score.setBindGroup(0, this.fusedBindGroup(fused.pass));
      score.dispatchWorkgroups(fused.groups(this.count, k), batch);
    } else {
      score.setBindGroup(0, this.scoreGroup(batch, pipeline));
      score.dispatchWorkgroups(Math.min(MAX_GROUPS, blocks));
    }
    score.end();
    const select = pass(1);
    this.digits.forEach((_, d) => {
      select.setPipeline(histogramPipeline);
      select.setBindGroup(0, histogramGroups[d]);
      select.dispatchWorkgroups(selectGroups, batch);
      select.setPipeline(this.pipelines.scan);
      select.setBindGroup(0, this.passGroups.scan[d]);
      select.dispatchWorkgroups(1, batch);
    });
    select.end();
    const filter = pass(2);
    filter.setPipeline(fused ? fused.filter : this.pipelines.filter);
    filter.setBindGroup(0, fused ? this.passGroups.fusedFilter! : this.passGroups.filter);
    filter.dispatchWorkgroups(selectGroups, batch);
    filter.end();
    const sort = pass(3);
    sort.setPipeline(this.pipelines.sort);
    sort.setBindGroup(0, this.passGroups.sort);
    sort.dispatchWorkgroups(1, batch);
    sort.end();
    dispatches += 3 + 2 * this.digits.length;
    const resultBytes = batch * k * 8;
    const stampsAt = MAX_BATCH * this.maxK * 8;
    const countsAt = stampsAt + TIMESTAMPS * 8;
    encoder.copyBufferToBuffer(buffers.sorted, 0, slot.buffer, 0, resultBytes);
    if (this.querySet && buffers.resolve) {
      encoder.resolveQuerySet(this.querySet, 0, TIMESTAMPS, buffers.resolve, 0);
      encoder.copyBufferToBuffer(buffers.resolve, 0, slot.buffer, stampsAt, TIMESTAMPS * 8);
    }
    if (fused) encoder.copyBufferToBuffer(buffers.candidateCount!, 0, slot.buffer, countsAt, MAX_BATCH * 4);
    const t1 = performance.now();
    queue.submit([encoder.finish()]);
    const mapped = slot.buffer.mapAsync(GPUMapMode.READ);
    const results = mapped.then(
      () => {
        const t2 = performance.now();
        const entries = new Uint32Array(slot.buffer.getMappedRange(0, resultBytes).slice(0));
        const counts = fused
          ? new Uint32Array(slot.buffer.getMappedRange(countsAt, MAX_BATCH * 4)).slice(0, batch)
          : undefined;
        let gpu: GpuPassTimes | undefined;
        if (this.querySet) {
          const stamps = new BigUint64Array(slot.buffer.getMappedRange(stampsAt, TIMESTAMPS * 8));
          const ms = (p: number) => Number(stamps[2 * p + 1] - stamps[2 * p]) / 1e6;
          const scoreMs = ms(0);
          // The fused pass reads the table once per query of the batch, the score pass once per batch.
          const bytes = this.tableBytes * (fused ? batch : 1);
          gpu = {
            score: scoreMs,
            select: ms(1),
            filter: ms(2),
            sort: ms(3),
            scoreGBps: scoreMs > 0 ? bytes / 1e6 / scoreMs : 0,
          };
        }
        slot.buffer.unmap();
        // More candidates than CANDIDATES (a threshold that stayed low: ties): answered by the radix passes.
        if (counts?.some((c) => c > CANDIDATES)) return undefined;
        const out = queries.map((_, b) => decode(entries.subarray(2 * b * k, 2 * (b + 1) * k), k));
        const t3 = performance.now();
        this.lastTimings = {
          upload: t1 - t0,
          scan: t2 - t1,
          readback: t3 - t2,
          total: t3 - t0,
          passes: dispatches,
          queries: batch,
          gpu,
          candidates: counts ? Array.from(counts) : undefined,
        };
        return out;
      },
      (error: unknown) => {
        if (this.disposed) throw new Error('RadixGpuRetriever: disposed during topK', { cause: error });
        throw this.lostError(error);
      },
    );
    // The slot is free once read; a fallback goes through the queue again (another slot, no wait on this one).
    slot.busy = results;
    return () =>
      results.then((out) => {
        if (out) return out;
        this.fallbacks++;
        return this.enqueue(queries, k, excludes, 'radix');
      });
  }

  /** The bindings of every pass that reads the table: params, table, query, exclusions, i8 row scales. */
  private tableReadEntries(): GPUBindGroupEntry[] {
    const { buffers } = this;
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: buffers.params } },
      { binding: 2, resource: { buffer: buffers.table } },
      { binding: 3, resource: { buffer: buffers.query } },
      { binding: 5, resource: { buffer: this.excl } },
    ];
    if (buffers.rowScales) entries.push({ binding: 4, resource: { buffer: buffers.rowScales } });
    return entries;
  }

  /** The fused pass's bindings (made again when the excluded-rows buffer grows). */
  private fusedBindGroup(pipeline: GPUComputePipeline): GPUBindGroup {
    if (this.fusedGroup) return this.fusedGroup;
    const { buffers } = this;
    const entries: GPUBindGroupEntry[] = [
      ...this.tableReadEntries(),
      { binding: 12, resource: { buffer: buffers.threshold! } },
      { binding: 13, resource: { buffer: buffers.candidateCount! } },
      { binding: 14, resource: { buffer: buffers.candidates! } },
    ];
    this.fusedGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    return this.fusedGroup;
  }

  /** The score kernel for a batch size, compiled once per device. */
  private scorePipeline(batch: number): Promise<GPUComputePipeline> {
    let pipeline = this.scorePipelines.get(batch);
    if (!pipeline) {
      pipeline = cachedPipeline(
        this.device,
        radixScoreShader(this.variant, this.dim, batch),
        `edgerec radix score ${this.variant} ×${batch}`,
      );
      this.scorePipelines.set(batch, pipeline);
    }
    return pipeline;
  }

  private scoreGroup(batch: number, pipeline: GPUComputePipeline): GPUBindGroup {
    const existing = this.scoreGroups.get(batch);
    if (existing) return existing;
    const entries: GPUBindGroupEntry[] = [
      ...this.tableReadEntries(),
      { binding: 6, resource: { buffer: this.buffers.keys } },
    ];
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.scoreGroups.set(batch, group);
    return group;
  }

  private makePassGroups() {
    const { buffers, device, pipelines } = this;
    const digit = (d: number) => ({
      binding: 1,
      resource: { buffer: buffers.digits, offset: d * DIGIT_STRIDE, size: 16 },
    });
    const params = { binding: 0, resource: { buffer: buffers.params } };
    const b = (binding: number, buffer: GPUBuffer) => ({ binding, resource: { buffer } });
    const histogram = this.digits.map((_, d) =>
      device.createBindGroup({
        layout: pipelines.histogram.getBindGroupLayout(0),
        entries: [params, digit(d), b(6, buffers.keys), b(7, buffers.hist), b(8, buffers.state)],
      }),
    );
    const scan = this.digits.map((_, d) =>
      device.createBindGroup({
        layout: pipelines.scan.getBindGroupLayout(0),
        entries: [params, digit(d), b(7, buffers.hist), b(8, buffers.state)],
      }),
    );
    const filter = device.createBindGroup({
      layout: pipelines.filter.getBindGroupLayout(0),
      entries: [
        params,
        b(6, buffers.keys),
        b(8, buffers.state),
        b(9, buffers.survivorCount),
        b(10, buffers.survivors),
      ],
    });
    const sort = device.createBindGroup({
      layout: pipelines.sort.getBindGroupLayout(0),
      entries: [params, b(9, buffers.survivorCount), b(10, buffers.survivors), b(11, buffers.sorted)],
    });
    if (!pipelines.fused) return { histogram, scan, filter, sort };
    const fused = pipelines.fused;
    const candidates = [b(13, buffers.candidateCount!), b(14, buffers.candidates!)];
    const fusedHistogram = this.digits.map((_, d) =>
      device.createBindGroup({
        layout: fused.histogram.getBindGroupLayout(0),
        // No params: the candidates carry their own count (an unused binding is not in the layout).
        entries: [digit(d), ...candidates, b(7, buffers.hist), b(8, buffers.state)],
      }),
    );
    const fusedFilter = device.createBindGroup({
      layout: fused.filter.getBindGroupLayout(0),
      entries: [...candidates, b(8, buffers.state), b(9, buffers.survivorCount), b(10, buffers.survivors)],
    });
    return { histogram, scan, filter, sort, fusedHistogram, fusedFilter };
  }

  /** Grows the excluded-rows buffer (to a power of two); the old one lives until dispose (work in flight may use it). */
  private ensureExclusionCapacity(rows: number): void {
    if (rows <= this.exclCapacity) return;
    let capacity = this.exclCapacity;
    while (capacity < rows) capacity *= 2;
    const grown = this.device.createBuffer({
      label: 'edgerec excluded rows',
      size: capacity * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    this.retired.push(this.excl);
    this.excl = grown;
    this.exclCapacity = capacity;
    this.scoreGroups.clear();
    this.fusedGroup = undefined;
  }

  private lostError(cause?: unknown): DeviceLostError {
    return deviceLostError(this.lostInfo, cause);
  }
}

/** The set bits of an exclusion bitset below `count`, ascending (what the score pass binary-searches). */
export function excludedRows(bits: Uint32Array | undefined, count: number): Uint32Array {
  if (!bits) return new Uint32Array(0);
  const words = Math.min(bits.length, Math.ceil(count / 32));
  let n = 0;
  for (let w = 0; w < words; w++) {
    let x = bits[w];
    while (x) {
      x &= x - 1;
      n++;
    }
  }
  const rows = new Uint32Array(n);
  let i = 0;
  for (let w = 0; w < words; w++) {
    let x = bits[w];
    while (x) {
      const low = x & -x;
      const row = w * 32 + 31 - Math.clz32(low);
      if (row < count) rows[i++] = row;
      x ^= low;
    }
  }
  return i === n ? rows : rows.subarray(0, i);
}

/** (key, index) entries, best first and sentinel-padded, into a TopKResult. */
function decode(entries: Uint32Array, k: number): TopKResult {
  let found = 0;
  while (found < k && entries[2 * found] > NEG_INF_KEY) found++;
  const indices = new Int32Array(found);
  const bits = new Uint32Array(found);
  for (let i = 0; i < found; i++) {
    bits[i] = keyToBits(entries[2 * i]);
    indices[i] = entries[2 * i + 1];
  }
  return { indices, scores: new Float32Array(bits.buffer) };
}

/**
 * Writes the table blocked: block B holds rows [B·WG, (B+1)·WG); within it, unit v (one word or a vec4 of
 * words) of lane l is at unit (B·units + v)·WG + l. Row words are packed as the merge pipeline packs them
 * (f16 two halves, i8 four bytes a word, little-endian; padding zero).
 */
function writeBlocked(table: DecodedItemTable, variant: ScanVariant, range: ArrayBuffer): void {
  const { dtype, count, dim, values } = table;
  const words = rowWords(dtype, dim);
  const { unitWords, units } = blockedLayout(variant, dim);
  const out = new Uint32Array(range);
  const bytesPerValue = dtype === 'f32' ? 4 : dtype === 'f16' ? 2 : 1;
  const source = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const rowBytes = dim * bytesPerValue;
  const scratch = new Uint8Array(words * 4);
  const scratchWords = new Uint32Array(scratch.buffer);
  const aligned = rowBytes === words * 4 && values.byteOffset % 4 === 0;
  const sourceWords = aligned ? new Uint32Array(values.buffer, values.byteOffset, count * words) : undefined;
  for (let r = 0; r < count; r++) {
    let row: Uint32Array;
    if (sourceWords) row = sourceWords.subarray(r * words, (r + 1) * words);
    else {
      scratch.set(source.subarray(r * rowBytes, (r + 1) * rowBytes));
      row = scratchWords;
    }
    const block = (r / WG) | 0;
    const lane = r % WG;
    for (let v = 0; v < units; v++) {
      const at = ((block * units + v) * WG + lane) * unitWords;
      for (let c = 0; c < unitWords; c++) out[at + c] = row[v * unitWords + c];
    }
  }
}
