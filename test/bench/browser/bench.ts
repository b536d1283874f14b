/**
 * The bench page (served by the Vite dev server that run.ts starts): `window.edgerecBench(config)` times
 * every row of one run and resolves with the device and the rows.
 *
 * - retrieve: each implementation in its own dedicated worker (see impls.ts), timed there, per call, from
 *   the query in JS to the k indices back in JS;
 * - recommend: `createRecommender` (the engine in its worker, as an app runs it), timed here on the main
 *   thread around `recommend()`, for a user with a few recorded actions (so that the encoder and retrieval
 *   run, not the cold-start popularity list).
 *
 * Rows of one catalog and stage are all set up first, then take turns (`rounds` turns each, a couple of
 * untimed calls before every turn), so that a change in machine load during the run affects them alike.
 * The peers whose thread count is a setting (THREADED_PEERS) are set up once per candidate count
 * (`threadCandidates`), each timed over a few calls, and only the fastest goes on to the timed turns.
 */
import type { ItemDtype, RankerFusion } from '../../../src/core/bundle/index.ts';
import { percentile } from '../../../src/core/lab/metrics.ts';
import type { DeviceChoice } from '../../../src/engine/types.ts';
import { createRecommender, type Recommender } from '../../../src/sdk/index.ts';
import { threadCandidates } from './impls.ts';
import {
  BENCH_QUERIES,
  type BenchConfig,
  type BenchResult,
  type CatalogSpec,
  type DeviceInfo,
  type Impl,
  type Learning,
  type RowResult,
  type Stage,
  THREADED_PEERS,
  type WorkerReply,
  type WorkerRequest,
} from './protocol.ts';

declare global {
  interface Window {
    edgerecBench(config: BenchConfig): Promise<BenchResult>;
    /** Exposed by the runner (progress to its stderr). */
    benchLog?: (line: string) => Promise<void>;
    /** Exposed by the runner: the machine's 1-minute load average now. */
    benchLoad?: () => Promise<number>;
  }
}

/** Timed calls per candidate that decide a threaded peer's thread count, in alternating rounds. */
const THREAD_PROBE_CALLS = 12;
const THREAD_PROBE_ROUNDS = 3;
const INIT_TIMEOUT_MS = 15 * 60_000;
const CALL_TIMEOUT_MS = 20 * 60_000;

const pre = document.getElementById('log');
function log(line: string): void {
  if (pre) pre.textContent += `${line}\n`;
  if (window.benchLog) void window.benchLog(line);
  else console.info(line);
}

const message = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

async function deviceInfo(): Promise<DeviceInfo> {
  const base = {
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
  try {
    if (!navigator.gpu) throw new Error('navigator.gpu is missing');
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const fallback = info.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
    return {
      ...base,
      webgpu: {
        vendor: info.vendor,
        architecture: info.architecture,
        device: info.device,
        description: info.description,
        isFallbackAdapter: fallback ?? null,
        features: [...adapter.features].sort(),
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    };
  } catch (error) {
    return { ...base, webgpu: { error: message(error) } };
  }
}

/** One request at a time to a retrieval worker. */
class RetrievalWorker {
  private readonly worker = new Worker(new URL('./retrieval.worker.ts', import.meta.url), { type: 'module' });
  private pending?: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };

  constructor() {
    this.worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const pending = this.pending;
      this.pending = undefined;
      pending?.resolve(event.data);
    };
    this.worker.onerror = (event) => {
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(new Error(`worker error: ${event.message || 'failed to load'}`));
    };
  }

  async call(request: WorkerRequest, timeoutMs: number): Promise<WorkerReply> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const reply = await new Promise<WorkerReply>((resolve, reject) => {
        this.pending = { resolve, reject };
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
        this.worker.postMessage(request);
      });
      if (reply.kind === 'error') throw new Error(reply.error);
      return reply;
    } finally {
      clearTimeout(timer);
    }
  }

  terminate(): void {
    this.worker.terminate();
  }
}

/** A row being measured: how to take a turn of `count` timed calls after `warmup` untimed ones. */
interface LiveRow {
  row: RowResult;
  samples: number[];
  spentMs: number;
  next: number;
  turn(from: number, count: number, warmup: number): Promise<number[]>;
  /** Untimed calls before the first turn, where not the config's `warmup`. */
  warmup?: number;
  close(): Promise<void>;
  stageSamples?: Record<string, number[]>;
}

function emptyRow(catalog: number, impl: Impl, dtype: ItemDtype, stage: Stage): RowResult {
  return {
    catalog,
    dtype,
    impl,
    stage,
    p50_ms: null,
    p99_ms: null,
    mean_ms: null,
    min_ms: null,
    max_ms: null,
    runs: 0,
    info: {},
  };
}

/** The first call does the work; later ones wait for it. */
function once(f: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= f();
    return done;
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function summarise(live: LiveRow): RowResult {
  const row = live.row;
  const s = [...live.samples].sort((a, b) => a - b);
  row.runs = s.length;
  if (s.length > 0) {
    row.p50_ms = round3(percentile(s, 0.5));
    row.p99_ms = round3(percentile(s, 0.99));
    row.mean_ms = round3(s.reduce((a, b) => a + b, 0) / s.length);
    row.min_ms = round3(s[0]);
    row.max_ms = round3(s[s.length - 1]);
  }
  if (live.stageSamples && s.length > 0) {
    const at = (q: number) =>
      Object.fromEntries(
        Object.entries(live.stageSamples!).map(([name, v]) => [
          name,
          round3(
            percentile(
              [...v].sort((a, b) => a - b),
              q,
            ),
          ),
        ]),
      );
    row.stages = at(0.5);
    row.stages_p99 = at(0.99);
  }
  return row;
}

/** Turns: every live row gets `rounds` turns of about runs/rounds timed calls. */
async function takeTurns(rows: LiveRow[], config: BenchConfig, label: string): Promise<void> {
  const budget = config.maxRowSeconds * 1000;
  for (let r = 0; r < config.rounds; r++) {
    const load = window.benchLoad ? await window.benchLoad() : undefined;
    if (load !== undefined)
      for (const live of rows) {
        live.row.load ??= [];
        live.row.load.push(load);
      }
    const count =
      Math.floor(((r + 1) * config.runs) / config.rounds) - Math.floor((r * config.runs) / config.rounds);
    for (const live of rows) {
      const first = live.warmup ?? config.warmup;
      const warmup = r === 0 ? first : Math.min(2, first);
      if (live.row.error || count === 0) continue;
      if (live.spentMs > budget) {
        live.row.info.truncated = `stopped after ${live.samples.length} runs (over ${config.maxRowSeconds} s)`;
        continue;
      }
      try {
        const started = performance.now();
        const ms = await live.turn(live.next, count, warmup);
        live.spentMs += performance.now() - started;
        live.next += count + warmup;
        live.samples.push(...ms);
      } catch (error) {
        live.row.error = message(error);
        log(`${label} ${live.row.impl} ${live.row.dtype}: ${live.row.error}`);
      }
    }
    log(`${label}: turn ${r + 1}/${config.rounds} done`);
  }
}

const RETRIEVE_ROWS: [Impl, ItemDtype][] = [
  ['edgerec-cpu', 'i8'],
  ['ort-wasm-int8', 'i8'],
  ['edgerec-cpu', 'f32'],
  ['ort-wasm', 'f32'],
  ['ort-wasm-matmul', 'f32'],
  ['tfjs-wasm', 'f32'],
  ['naive-js', 'f32'],
  ['edgerec-webgpu', 'f32'],
  ['edgerec-webgpu', 'f16'],
  ['edgerec-webgpu', 'i8'],
  ['edgerec-webgpu-radix', 'f32'],
  ['edgerec-webgpu-radix', 'f16'],
  ['edgerec-webgpu-radix', 'i8'],
  ['edgerec-webgpu-fused', 'f32'],
  ['edgerec-webgpu-fused', 'f16'],
  ['edgerec-webgpu-fused', 'i8'],
  ['tfjs-webgpu', 'f32'],
  ['ort-webgpu', 'f32'],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * A retrieval worker set up for one row. THREADED_PEERS are set up with every candidate thread count at
 * once, then probed in alternation (THREAD_PROBE_ROUNDS rounds of a few calls each, so that a change in
 * load falls on every candidate alike); the count with the lowest median goes on, the others are closed.
 */
async function setUpRetrieval(
  impl: Impl,
  dtype: ItemDtype,
  catalog: CatalogSpec,
  config: BenchConfig,
  label: string,
): Promise<{ worker: RetrievalWorker; reply: WorkerReply & { kind: 'ready' } }> {
  const candidates = THREADED_PEERS.includes(impl) ? threadCandidates() : [undefined];
  const ready: {
    threads: number | undefined;
    worker: RetrievalWorker;
    reply: WorkerReply & { kind: 'ready' };
  }[] = [];
  let lastError: unknown;
  for (const threads of candidates) {
    const worker = new RetrievalWorker();
    try {
      const reply = await worker.call(
        { kind: 'init', impl, dtype, catalog, k: config.k, queries: BENCH_QUERIES, threads },
        INIT_TIMEOUT_MS,
      );
      if (reply.kind !== 'ready') throw new Error(`unexpected reply ${reply.kind}`);
      ready.push({ threads, worker, reply });
    } catch (error) {
      lastError = error;
      await closeWorker(worker);
      log(`${label} ${impl} ${dtype} with ${threads} threads: ${message(error)}`);
    }
  }
  if (ready.length === 0) throw lastError ?? new Error('no thread count worked');
  if (ready.length === 1 && candidates.length === 1) return ready[0];
  const samples = ready.map(() => [] as number[]);
  const perRound = Math.ceil(THREAD_PROBE_CALLS / THREAD_PROBE_ROUNDS);
  for (let round = 0; round < THREAD_PROBE_ROUNDS; round++)
    for (const [i, { worker }] of ready.entries()) {
      const probe = await worker.call(
        { kind: 'run', from: BENCH_QUERIES - 1 - round * (perRound + 1), count: perRound, warmup: 1 },
        CALL_TIMEOUT_MS,
      );
      if (probe.kind !== 'samples') throw new Error(`unexpected reply ${probe.kind}`);
      samples[i].push(...probe.ms);
    }
  const medians = samples.map(median);
  const best = medians.indexOf(Math.min(...medians));
  for (const [i, { worker }] of ready.entries()) if (i !== best) await closeWorker(worker);
  const trials = Object.fromEntries(
    ready.map(({ threads }, i) => [String(threads), Math.round(medians[i] * 1000) / 1000]),
  );
  const chosen = ready[best];
  chosen.reply.info = { ...chosen.reply.info, threadTrials: trials };
  return { worker: chosen.worker, reply: chosen.reply };
}

async function closeWorker(worker: RetrievalWorker): Promise<void> {
  await worker.call({ kind: 'dispose' }, 60_000).catch(() => undefined);
  worker.terminate();
}

async function retrieveStage(catalog: CatalogSpec, config: BenchConfig): Promise<RowResult[]> {
  const label = `${catalog.count} retrieve`;
  const live: LiveRow[] = [];
  for (const [impl, dtype] of RETRIEVE_ROWS) {
    if (!config.impls.includes(impl) || !config.dtypes.includes(dtype)) continue;
    const row = emptyRow(catalog.count, impl, dtype, 'retrieve');
    let worker: RetrievalWorker | undefined;
    const entry: LiveRow = {
      row,
      samples: [],
      spentMs: 0,
      next: 0,
      turn: async (from, count, warmup) => {
        const reply = await worker!.call({ kind: 'run', from, count, warmup }, CALL_TIMEOUT_MS);
        if (reply.kind !== 'samples') throw new Error(`unexpected reply ${reply.kind}`);
        return reply.ms;
      },
      close: once(async () => {
        if (worker) await closeWorker(worker);
      }),
    };
    live.push(entry);
    const started = performance.now();
    try {
      const ready = await setUpRetrieval(impl, dtype, catalog, config, label);
      worker = ready.worker;
      row.info = { ...ready.reply.info, setupMs: Math.round(performance.now() - started) };
      row.answers = ready.reply.answers;
      log(`${label} ${impl} ${dtype}: ready in ${row.info.setupMs} ms ${JSON.stringify(ready.reply.info)}`);
    } catch (error) {
      row.error = message(error);
      log(`${label} ${impl} ${dtype}: setup failed: ${row.error}`);
    }
  }
  try {
    await takeTurns(live, config, label);
  } finally {
    for (const entry of live) await entry.close();
  }
  return live.map(summarise);
}

/**
 * On-device learning: 'off' rows time recommend() alone; 'busy' rows record an event before every timed
 * call (outside the timing), so a learning run starts every 5 events and runs beside the calls, as it
 * would for a user scrolling the feed. The pair, same dtype and device, says what learning costs a request.
 * 'records' rows record the same events with learning off: what the busy row owes to the events themselves
 * (a longer history to encode, the IndexedDB writes), apart from learning.
 */
/**
 * [impl, dtype, device, modelThreads (ORT's wasm threads for the ranker and encoder; default: the engine's),
 * learning, rankerFusion (default: the bundle's validation choice)].
 */
const RECOMMEND_ROWS: [Impl, ItemDtype, DeviceChoice, number | undefined, Learning, RankerFusion?][] = [
  ['edgerec-cpu', 'i8', 'wasm', undefined, 'off'],
  ['edgerec-cpu', 'i8', 'wasm', undefined, 'busy'],
  ['edgerec-cpu', 'i8', 'wasm', undefined, 'records'],
  ['edgerec-cpu', 'i8', 'wasm', 1, 'off'],
  // The other ranker fusion of the bundle (the default bundle chose early): what early fusion costs a request.
  ['edgerec-cpu', 'i8', 'wasm', undefined, 'off', 'late'],
  ['edgerec-cpu', 'f32', 'wasm', undefined, 'off'],
  ['edgerec-cpu', 'f32', 'wasm', undefined, 'busy'],
  ['edgerec-cpu', 'f32', 'wasm', undefined, 'records'],
  ['edgerec-webgpu', 'f32', 'webgpu', undefined, 'off'],
  ['edgerec-webgpu', 'f32', 'webgpu', undefined, 'busy'],
  ['edgerec-webgpu', 'f16', 'webgpu', undefined, 'off'],
  ['edgerec-webgpu', 'i8', 'webgpu', undefined, 'off'],
];

const ENGINE_STALL_MS = 120_000;
/** Chromium's IndexedDB refuses a single value over this many bytes (the transaction aborts). */
const CHROMIUM_IDB_MAX_VALUE = 133_169_152;

/** A hint when the engine would store a file bigger than one IndexedDB value may be. */
async function tooLarge(catalog: CatalogSpec, dtype: ItemDtype): Promise<string> {
  try {
    const url = new URL(`${catalog.bundlesUrl}${catalog.version}/manifest.json`, location.href);
    const manifest = (await (await fetch(url)).json()) as {
      items: { dtype: string; bytes: number; file: string }[];
    };
    const table = manifest.items.find((t) => t.dtype === dtype);
    return table && table.bytes > CHROMIUM_IDB_MAX_VALUE
      ? ` (the engine caches ${table.file}, ${table.bytes} bytes, as one IndexedDB value; Chromium refuses values over ${CHROMIUM_IDB_MAX_VALUE} bytes by aborting the transaction, and the engine's write waits on the put forever)`
      : '';
  } catch {
    return '';
  }
}

const ACTIONS = ['click', 'save', 'closeup', 'click', 'save', 'click'] as const;

async function recommendStage(
  catalog: CatalogSpec,
  config: BenchConfig,
  machine: DeviceInfo,
): Promise<RowResult[]> {
  const softwareGpu = 'isFallbackAdapter' in machine.webgpu && machine.webgpu.isFallbackAdapter === true;
  const label = `${catalog.count} recommend`;
  const live: LiveRow[] = [];
  const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  for (const [impl, dtype, device, modelThreads, learning, rankerFusion] of RECOMMEND_ROWS) {
    if (!config.impls.includes(impl) || !config.dtypes.includes(dtype) || !config.learning.includes(learning))
      continue;
    const row = emptyRow(catalog.count, impl, dtype, 'recommend');
    row.learning = learning;
    const databaseName = `edgerec-bench-${catalog.count}-${dtype}-${device}-${modelThreads ?? 'd'}-${learning}-${rankerFusion ?? 'd'}-${run}`;
    let events = 0;
    const learningDone = async () => {
      const status = (await rec!.status()).learning;
      return { runs: status?.runs ?? 0, steps: (status?.steps ?? 0) + (status?.runSteps ?? 0) };
    };
    const recordOne = () =>
      rec!.record({
        itemId: `b${(events++ * 7919) % catalog.count}`,
        action: ACTIONS[events % ACTIONS.length],
      });
    let rec: Recommender | undefined;
    const stageSamples: Record<string, number[]> = {
      encode: [],
      retrieve: [],
      rank: [],
      rerank: [],
      total: [],
    };
    // The engine's worker, made here (as the SDK would) so that an init that never finishes can be ended.
    const worker = new Worker(new URL('../../../workers/engine.worker.ts', import.meta.url), {
      type: 'module',
      name: 'edgerec',
    });
    const close = once(async () => {
      if (rec) {
        await rec.clearCache().catch(() => undefined);
        await rec.dispose().catch(() => undefined);
      }
      rec = undefined;
      worker.terminate();
      await new Promise((resolve) => {
        const request = indexedDB.deleteDatabase(databaseName);
        request.onsuccess = request.onerror = request.onblocked = resolve;
      });
    });
    const entry: LiveRow = {
      row,
      samples: [],
      spentMs: 0,
      next: 0,
      stageSamples,
      turn: async (_from, count, warmup) => {
        const r = rec!;
        for (let i = 0; i < warmup; i++) await r.recommend({ k: config.feedK });
        const ms: number[] = [];
        const before = learning === 'busy' ? await learningDone() : { runs: 0, steps: 0 };
        for (let i = 0; i < count; i++) {
          if (learning !== 'off') await recordOne();
          const t = performance.now();
          const result = await r.recommend({ k: config.feedK });
          const end = performance.now();
          ms.push(end - t);
          // In a --trace run, each timed call is a user-timing span (cheap enough to leave on).
          performance.measure(`recommend ${row.dtype} ${learning}`, { start: t, end });
          if (result.backend.retrieval !== device)
            throw new Error(
              `retrieval moved to ${result.backend.retrieval}: ${(await r.status()).lastFallback}`,
            );
          for (const [name, value] of Object.entries(result.timings)) stageSamples[name]?.push(value);
        }
        performance.clearMeasures();
        if (learning === 'busy') {
          const after = await learningDone();
          row.info.learningRuns = Number(row.info.learningRuns ?? 0) + after.runs - before.runs;
          row.info.learningSteps = Number(row.info.learningSteps ?? 0) + after.steps - before.steps;
          // The learning this turn's events scheduled (a run now, or one in 2 s for fewer than 5 new events)
          // must not run into the next row's timed calls (two cores: it would take one from them): run it
          // now (learn() takes the scheduled run's place) and end the turn when it is done. Counted above
          // are the runs and steps during the calls, not this one.
          await r.learn();
        }
        return ms;
      },
      close,
    };
    entry.warmup = device === 'webgpu' && softwareGpu ? config.warmup : config.recommendWarmup;
    live.push(entry);
    const started = performance.now();
    const phases: Record<string, [number, number]> = {};
    try {
      let lastProgress = performance.now();
      let lastPhase = 'start';
      const creating = createRecommender({
        bundleUrl: new URL(catalog.bundlesUrl, location.href).href,
        userId: `bench-user-${run}`,
        databaseName,
        device,
        dtype,
        worker,
        learning: learning === 'busy',
        ...(modelThreads !== undefined ? { modelThreads } : {}),
        ...(rankerFusion ? { rankerFusion } : {}),
        onProgress: (p) => {
          lastProgress = performance.now();
          // Cold-start profile: when each phase (download, verify, compile, warmup, …) was first and last seen.
          const at = Math.round(lastProgress - started);
          phases[p.phase] = [phases[p.phase]?.[0] ?? at, at];
          lastPhase = `${p.phase}${p.file ? ` ${p.file}` : ''}`;
          if (config.verbose)
            log(
              `${label} ${impl} ${dtype}: ${p.phase} ${p.file ?? p.message ?? ''} ${p.loaded ?? ''}/${p.total ?? ''}`,
            );
        },
      });
      // A watchdog: an engine that reports no progress for this long is taken for stuck.
      let watchdog: ReturnType<typeof setInterval> | undefined;
      const stalled = new Promise<never>((_, reject) => {
        watchdog = setInterval(async () => {
          if (performance.now() - lastProgress < ENGINE_STALL_MS) return;
          clearInterval(watchdog);
          reject(
            new Error(
              `engine init stalled: no progress for ${ENGINE_STALL_MS / 1000} s after "${lastPhase}"${await tooLarge(catalog, dtype)}`,
            ),
          );
        }, 1000);
      });
      try {
        rec = await Promise.race([creating, stalled]);
      } finally {
        clearInterval(watchdog);
      }
      const initMs = performance.now() - started;
      const status = await rec.status();
      if (status.backend?.retrieval !== device)
        throw new Error(
          `retrieval runs on ${status.backend?.retrieval}, not ${device}: ${status.lastFallback}`,
        );
      // A user with history: items spread over the catalog, oldest first.
      const now = Date.now();
      const step = Math.max(1, Math.floor(catalog.count / 24));
      for (let i = 0; i < 24; i++)
        await rec.record({
          itemId: `b${(i * step + 7 * i) % catalog.count}`,
          action: ACTIONS[i % ACTIONS.length],
          ts: now - (24 - i) * 60_000,
        });
      // Cold start: a fresh database (download from loopback, verify, compile, warm up), then the first
      // recommendation of a user with history (the 24 records above are not counted).
      const firstStarted = performance.now();
      await rec.recommend({ k: config.feedK });
      const firstMs = performance.now() - firstStarted;
      let learningRunMs: number | undefined;
      if (learning === 'busy') {
        // The first run times every tfjs backend (the warm-up): done before the timed calls, as in an app
        // that has been used for a while.
        const learnt = await rec.learn();
        if (!learnt.backend) throw new Error(`on-device learning did not run: ${JSON.stringify(learnt)}`);
        row.learningBackend = learnt.backend;
        // The warm-up's 10-step run on the chosen backend: how long a recommend() can wait for one step.
        learningRunMs = learnt.timings?.[learnt.backend];
      }
      row.cold = {
        init_ms: Math.round(initMs),
        first_recommend_ms: round3(firstMs),
        cold_start_ms: Math.round(initMs + firstMs),
        phases,
      };
      row.info = {
        backend: status.backend,
        rankerVariant: status.rankerVariant,
        modelVersion: status.modelVersion,
        modelThreads: status.wasmThreads,
        setupMs: Math.round(performance.now() - started),
        ...(learningRunMs !== undefined ? { learningRunMs: round3(learningRunMs) } : {}),
      };
      log(`${label} ${impl} ${dtype}: ready in ${row.info.setupMs} ms ${JSON.stringify(status.backend)}`);
    } catch (error) {
      row.error = message(error);
      log(`${label} ${impl} ${dtype}: setup failed: ${row.error}`);
      await close();
    }
  }
  try {
    await takeTurns(live, config, label);
  } finally {
    for (const entry of live) await entry.close();
  }
  return live.map(summarise);
}

window.edgerecBench = async (config: BenchConfig): Promise<BenchResult> => {
  const device = await deviceInfo();
  log(`device: ${JSON.stringify(device)}`);
  const rows: RowResult[] = [];
  for (const catalog of config.catalogs) {
    if (config.stages.includes('retrieve')) rows.push(...(await retrieveStage(catalog, config)));
    if (config.stages.includes('recommend')) rows.push(...(await recommendStage(catalog, config, device)));
  }
  return { device, rows };
};
