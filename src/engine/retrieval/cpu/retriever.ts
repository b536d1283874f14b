/**
 * CPU retrieval: exact top-k over the item table, equal to `referenceTopK` (same indices, same scores).
 *
 * Backends: `wasm` (kernel.wat: WASM SIMD, relaxed-SIMD dot products where the engine has them, a
 * min-heap inside the kernel) shares the rows between the calling thread and `threads - 1` helper workers
 * on one `WebAssembly.Memory({ shared: true })`: each takes ~256 KiB chunks of rows from a shared counter
 * and keeps its own k best, merged here with ties by index; a helper that wakes late takes fewer chunks
 * (or none), so a busy machine costs parallelism, not latency. Threads need cross-origin isolation
 * (SharedArrayBuffer) and nested workers; without them, one thread. `js` (scan-ts.ts) is the plain
 * TypeScript scan, used when asked for, or where WASM SIMD is missing.
 */
import type { DecodedItemTable } from '../../../core/bundle/index.ts';
import type { ExclusionBitset, TopKResult } from '../../../core/retrieval/index.ts';
import { slabF32, slabI32 } from '../../../core/typed-slab.ts';
import { track } from '../../resources.ts';
import {
  beginQuery,
  CONTROL,
  JOB,
  jobTag,
  type KernelExports,
  type KernelFlavor,
  type KernelLayout,
  loadKernel,
  MAX_I8_DIM,
  OP_SCAN,
  OP_STOP,
  PAGE,
  planLayout,
  scanChunks,
  scanRange,
  type WorkerInit,
  type WorkerReply,
  writeQuery,
  writeTable,
} from './kernel.ts';
import { scanTopK, sortEntries } from './scan-ts.ts';

export interface CpuRetrieverOptions {
  /**
   * Threads for the wasm backend, the calling one included. Default: min(hardwareConcurrency, 8), and one
   * per 32k rows at most. One where the context is not cross-origin isolated.
   */
  threads?: number;
  /** Default 'wasm' (falling back to 'js' where WASM SIMD is missing). */
  kernel?: 'wasm' | 'js';
  /** Force the plain-SIMD or the relaxed-SIMD kernel (tests, benchmarks); default: the best that validates. */
  flavor?: KernelFlavor;
}

/** The default caps threads at 8 and gives each at least this many rows. */
const MIN_ROWS_PER_THREAD = 32_768;
const MAX_DEFAULT_THREADS = 8;
/** A helper that has not answered within this long is taken for dead. */
const WAIT_TIMEOUT_MS = 10_000;

interface Backend {
  /** Threads that took part in the last scan (helpers that woke too late leave it to the others). */
  lastThreads: number;
  topK(query: Float32Array, k: number, exclude?: ExclusionBitset): TopKResult | Promise<TopKResult>;
  dispose(): void;
}

// Helpers sleep in Atomics.wait until terminated: a retriever dropped without dispose() still ends them.
const finalizer = new FinalizationRegistry<Backend>((backend) => backend.dispose());

export class CpuRetriever {
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    /** Only the dimension: the wasm backend has its own copy of the table, so the caller's can be freed. */
    private readonly dim: number,
    private readonly impl: Backend,
    readonly backend: 'wasm' | 'js',
    readonly threads: number,
    /** The wasm kernel that runs (undefined for js). */
    readonly flavor: KernelFlavor | undefined,
  ) {
    track('cpuRetrievers', 1);
  }

  static async create(table: DecodedItemTable, options: CpuRetrieverOptions = {}): Promise<CpuRetriever> {
    if (
      options.kernel !== 'js' &&
      table.count > 0 &&
      table.dim > 0 &&
      !(table.dtype === 'i8' && table.dim > MAX_I8_DIM)
    ) {
      const wasm = await WasmBackend.create(table, options);
      if (wasm) {
        const retriever = new CpuRetriever(
          table.dim,
          wasm,
          'wasm',
          wasm.layout.heaps.length,
          wasm.layout.flavor,
        );
        if (wasm.layout.heaps.length > 1) finalizer.register(retriever, wasm, retriever);
        return retriever;
      }
    }
    const js: Backend = { lastThreads: 1, topK: (q, k, ex) => scanTopK(table, q, k, ex), dispose() {} };
    return new CpuRetriever(table.dim, js, 'js', 1, undefined);
  }

  /** The k best rows for `query`, best first (ties by lower index); rows set in `exclude` never appear. */
  topK(query: Float32Array, k: number, exclude?: ExclusionBitset): Promise<TopKResult> {
    if (query.length !== this.dim)
      return Promise.reject(new RangeError(`query has ${query.length} dimensions, the table ${this.dim}`));
    // One scan at a time: the kernel's memory holds one query.
    const run = this.queue.then(() => this.impl.topK(query, k, exclude));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** How many threads took part in the last scan (≤ threads: a helper that wakes late does nothing). */
  get lastThreads(): number {
    return this.impl.lastThreads;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    track('cpuRetrievers', -1);
    finalizer.unregister(this);
    this.impl.dispose();
  }
}

function canUseThreads(): boolean {
  return (
    globalThis.crossOriginIsolated === true &&
    typeof SharedArrayBuffer !== 'undefined' &&
    typeof Worker !== 'undefined'
  );
}

class WasmBackend implements Backend {
  private disposed = false;
  private ctl: Int32Array;
  private ctlF: Float32Array;
  private seq = 0;
  lastThreads = 1;

  private constructor(
    readonly layout: KernelLayout,
    private readonly memory: WebAssembly.Memory,
    private readonly kernel: KernelExports,
    private readonly workers: Worker[],
    private readonly columnScales: Float32Array | undefined,
    private readonly wait: 'block' | 'async' | 'spin',
  ) {
    this.ctl = new Int32Array(memory.buffer, layout.control, 16 * layout.heaps.length);
    this.ctlF = new Float32Array(memory.buffer, layout.control, 16);
    track('retrievalWorkers', workers.length);
  }

  static async create(
    table: DecodedItemTable,
    options: CpuRetrieverOptions,
  ): Promise<WasmBackend | undefined> {
    const groups = Math.ceil(table.count / 4);
    const hardware = globalThis.navigator?.hardwareConcurrency ?? 1;
    let threads =
      options.threads ??
      Math.min(hardware, MAX_DEFAULT_THREADS, Math.ceil(table.count / MIN_ROWS_PER_THREAD));
    threads = Math.max(1, Math.min(Math.floor(threads), groups));
    if (!canUseThreads()) threads = 1;
    const shared = threads > 1;
    const loaded = await loadKernel(shared, options.flavor);
    if (!loaded) return undefined;
    const layout = planLayout(table, loaded.flavor, threads);
    const pages = Math.ceil(layout.bytes / PAGE);
    if (pages > 65536) return undefined;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
    writeTable(memory.buffer, layout, table);
    const instance = await WebAssembly.instantiate(loaded.module, { env: { memory } });
    const kernel = instance.exports as unknown as KernelExports;
    const started = Array.from({ length: threads - 1 }, (_, i) =>
      startWorker({ module: loaded.module, memory, layout, thread: i + 1 }),
    );
    const results = await Promise.allSettled(started);
    const workers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      // E.g. a worker script the page's policy blocks: carry on with one thread, and say why.
      for (const w of workers) w.terminate();
      console.warn(`edgerec: CPU retrieval runs on one thread: ${failed.reason}`);
      return WasmBackend.create(table, { ...options, threads: 1 });
    }
    return new WasmBackend(layout, memory, kernel, workers, table.columnScales, waitMode(memory));
  }

  async topK(query: Float32Array, k: number, exclude?: ExclusionBitset): Promise<TopKResult> {
    if (this.disposed) throw new Error('edgerec: CpuRetriever used after dispose()');
    const { layout, ctl } = this;
    const kk = Math.max(0, Math.min(Math.floor(k), layout.count));
    if (kk === 0) return { indices: new Int32Array(0), scores: new Float32Array(0) };
    const buffer = this.memory.buffer;
    const qscale = writeQuery(buffer, layout, query, this.columnScales, exclude);
    const helpers = this.workers.length;
    const hasExclude = exclude !== undefined;
    let sizes: number[];
    if (helpers === 0) {
      beginQuery(this.kernel, layout, 0, kk, hasExclude);
      sizes = [scanRange(this.kernel, layout, 0, layout.count, qscale)];
      this.lastThreads = 1;
    } else {
      const tag = jobTag(++this.seq);
      ctl[CONTROL.OP] = OP_SCAN;
      ctl[CONTROL.K] = kk;
      ctl[CONTROL.EXCL] = hasExclude ? 1 : 0;
      this.ctlF[CONTROL.QSCALE] = qscale;
      ctl[CONTROL.NEXT] = 0;
      for (let h = 1; h <= helpers; h++) Atomics.store(ctl, 16 * h + CONTROL.STATE, tag);
      Atomics.store(ctl, CONTROL.SEQ, this.seq);
      Atomics.notify(ctl, CONTROL.SEQ);
      beginQuery(this.kernel, layout, 0, kk, hasExclude);
      sizes = [scanChunks(this.kernel, layout, ctl, qscale)];
      let joined = 1;
      for (let h = 1; h <= helpers; h++) {
        const size = await this.collect(h, tag);
        if (size >= 0) joined++;
        sizes.push(Math.max(0, size));
      }
      this.lastThreads = joined;
    }
    // Merge the threads' heaps: (f32 score, i32 row) pairs.
    const total = sizes.reduce((a, b) => a + b, 0);
    const scores = slabF32(total);
    const indices = slabI32(total);
    let at = 0;
    sizes.forEach((n, t) => {
      const heapF = new Float32Array(buffer, layout.heaps[t], 2 * n);
      const heapI = new Int32Array(buffer, layout.heaps[t], 2 * n);
      for (let i = 0; i < n; i++, at++) {
        scores[at] = heapF[2 * i];
        indices[at] = heapI[2 * i + 1];
      }
    });
    return sortEntries(scores, indices, kk);
  }

  /** Helper h's heap size for the job `tag`: -1 if it had not joined (the job is closed to it now). */
  private async collect(h: number, tag: number): Promise<number> {
    const { ctl } = this;
    const state = 16 * h + CONTROL.STATE;
    if (Atomics.compareExchange(ctl, state, tag, tag + JOB.CLOSED) === tag) return -1;
    const deadline = performance.now() + WAIT_TIMEOUT_MS;
    for (;;) {
      const now = Atomics.load(ctl, state);
      if (now === tag + JOB.DONE) return ctl[16 * h + CONTROL.SIZE];
      const left = deadline - performance.now();
      if (left <= 0) throw new Error('edgerec: a CPU retrieval worker did not answer');
      if (this.wait === 'block') Atomics.wait(ctl, state, now, left);
      else if (this.wait === 'async') {
        const result = (Atomics as unknown as { waitAsync: AtomicsWaitAsync }).waitAsync(
          ctl,
          state,
          now,
          left,
        );
        if (result.async) await result.value;
      }
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.workers.length > 0) {
      Atomics.store(this.ctl, CONTROL.OP, OP_STOP);
      Atomics.store(this.ctl, CONTROL.SEQ, ++this.seq);
      Atomics.notify(this.ctl, CONTROL.SEQ);
      for (const w of this.workers) w.terminate();
      track('retrievalWorkers', -this.workers.length);
    }
  }
}

type AtomicsWaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

/** How the caller waits for its helpers: Atomics.wait is allowed in workers, not on a window's main thread. */
function waitMode(memory: WebAssembly.Memory): 'block' | 'async' | 'spin' {
  // Without cross-origin isolation there is no SharedArrayBuffer global at all (one thread: no waiting).
  if (typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer))
    return 'spin';
  try {
    Atomics.wait(new Int32Array(memory.buffer, 0, 1), 0, 1, 0); // "not-equal" at once where blocking is allowed
    return 'block';
  } catch {
    return typeof (Atomics as unknown as { waitAsync?: unknown }).waitAsync === 'function' ? 'async' : 'spin';
  }
}

function startWorker(init: WorkerInit): Promise<Worker> {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), {
    type: 'module',
    name: 'edgerec-retrieval',
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error('edgerec: a CPU retrieval worker did not start')),
      WAIT_TIMEOUT_MS,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      worker.terminate();
      reject(error);
    };
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      clearTimeout(timer);
      worker.onmessage = null;
      worker.onerror = null;
      if (event.data.ready) resolve(worker);
      else fail(new Error(`edgerec: CPU retrieval worker: ${event.data.error}`));
    };
    worker.onerror = (event) => fail(new Error(`edgerec: CPU retrieval worker failed: ${event.message}`));
    worker.postMessage(init);
  });
}
