/**
 * `npm run bench:browser` — edgerec's retrieval and recommend() latency in headless Chromium, against
 * peers measured in the same run: tfjs (webgpu, wasm) matMul + topk, onnxruntime-web on wasm (Gemm transB +
 * TopK, MatMul over the pre-transposed table + TopK, and an int8 graph: DynamicQuantizeLinear +
 * MatMulInteger over the bundle's i8 table + TopK) and on webgpu, and a naive JS loop. Like for like: a
 * row's ratio is against the fastest peer over the same dtype, every retrieve row carries recall_vs_f32
 * (its top-k against the exact f32 top-k, referenceTopK, over the first queries), and the machine's load
 * average is sampled through the run. The catalogs are synthetic workloads around real models: see
 * artifacts.ts. Progress goes to stderr; stdout gets the table, or exactly one JSON object with `--json`
 * (use `npm run -s …`, or npm prints its own banner on stdout first).
 *
 *   --catalogs 10000,100000,1000000   item counts (default all three; --quick: 10000)
 *   --runs N          timed calls per row (default 100; --quick: 10), after --warmup W (default 5; --quick: 2)
 *   --recommend-warmup W   warm-up calls of a recommend row (default 200; --quick: 2): V8 is still optimising
 *                     the engine's JS and ORT's wasm during the first few hundred calls, and the steady state
 *                     is what a latency budget is about; WebGPU rows on a software adapter take --warmup
 *   --rounds R        turns the timed calls of a row are split into (default 4)
 *   --stages retrieve,recommend       --impls edgerec-cpu,ort-wasm,…   (default: all)
 *   --max-row-seconds S   a row stops taking turns once its timed calls passed S (default 120)
 *   --verbose         every console message of the page and its workers, and the engine's load progress
 *   --save FILE       also write the JSON object to FILE (with the table on stdout)
 *   --base DIR        the bundles folder whose models are used (default models/, else test/generated/bundle/)
 *   --build           serve a production build of the page (vite build + preview: the engine worker bundled,
 *                     as an app ships it) instead of Vite's dev server (modules one by one)
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { chromium } from 'playwright-core';
import { formatTable } from '../../../src/cli/report.ts';
import type { ItemDtype } from '../../../src/core/bundle/index.ts';
import { chromiumArgs, chromiumPath } from '../../../vite.config.ts';
import { benchArgs } from '../args.ts';
import { type BenchArtifacts, exactTopK, openBase, prepareCatalog } from './artifacts.ts';
import {
  BASELINES,
  BENCH_QUERIES,
  type BenchConfig,
  type BenchResult,
  IMPLS,
  type Impl,
  LEARNING,
  type Learning,
  RECALL_QUERIES,
  type RowResult,
  type Stage,
} from './protocol.ts';
import { benchQueries } from './queries.ts';
import { BENCH_PAGE, startSite } from './site.ts';

const K = 200;
const TRACE_CATEGORIES = [
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'v8',
  'v8.execute',
  'disabled-by-default-v8.gc',
  'blink.user_timing',
  'v8.wasm',
  'disabled-by-default-v8.wasm.detailed',
  'disabled-by-default-v8.compile',
  'toplevel',
];
const FEED_K = 20;

function options() {
  const args = benchArgs({
    script: 'bench:browser',
    flags: {
      catalogs: { type: 'string', value: '10000,100000,1000000' },
      runs: { type: 'string', value: 'N' },
      warmup: { type: 'string', value: 'N' },
      'recommend-warmup': { type: 'string', value: 'N' },
      rounds: { type: 'string', value: 'N' },
      quick: { type: 'boolean' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      stages: { type: 'string', value: 'retrieve,recommend' },
      impls: { type: 'string', value: 'a,b' },
      dtypes: { type: 'string', value: 'f32,f16,i8' },
      learning: { type: 'string', value: 'off,busy,records' },
      trace: { type: 'string', value: 'FILE.json' },
      'max-row-seconds': { type: 'string', value: 'S' },
      base: { type: 'string', value: 'DIR' },
      save: { type: 'string', value: 'FILE' },
      build: { type: 'boolean' },
    },
  });
  const quick = args.values.quick ?? false;
  const catalogs = args
    .list('catalogs', quick ? ['10000'] : ['10000', '100000', '1000000'])
    .map((item) => args.asInteger('--catalogs', item.replaceAll('_', ''), K));
  return {
    catalogs,
    runs: args.integer('runs', quick ? 10 : 100, 1),
    warmup: args.integer('warmup', quick ? 2 : 5, 0),
    recommendWarmup: args.integer('recommend-warmup', quick ? 2 : 200, 0),
    rounds: args.integer('rounds', quick ? 2 : 4, 1),
    json: args.values.json ?? false,
    verbose: args.values.verbose ?? false,
    stages: args.list<Stage>('stages', ['retrieve', 'recommend'], ['retrieve', 'recommend']),
    impls: args.list<Impl>('impls', IMPLS, IMPLS),
    dtypes: args.list<ItemDtype>('dtypes', ['f32', 'f16', 'i8'], ['f32', 'f16', 'i8']),
    learning: args.list<Learning>('learning', LEARNING, LEARNING),
    trace: args.values.trace,
    maxRowSeconds: args.integer('max-row-seconds', 120, 1),
    base: args.values.base,
    save: args.values.save,
    build: args.values.build ?? false,
  };
}

const log = (line: string) => process.stderr.write(`[bench:browser] ${line}\n`);
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/**
 * Fastest peer p50 of each catalog, stage and dtype; a row's ratio is that ÷ its own p50 (> 1: faster).
 * Only within one dtype: an i8 row reads a quarter of an f32 row's bytes, so a cross-dtype ratio measures
 * the quantization, not the kernel (its recall_vs_f32 says what the quantization costs).
 */
export function withRatios(
  rows: RowResult[],
): (RowResult & { ratio: number | null; best_baseline: string | null })[] {
  return rows.map((row) => {
    const peers = rows.filter(
      (r) =>
        r.catalog === row.catalog &&
        r.stage === row.stage &&
        r.dtype === row.dtype &&
        BASELINES.includes(r.impl) &&
        r.p50_ms !== null,
    );
    const best = peers.sort((a, b) => a.p50_ms! - b.p50_ms!)[0];
    const ratio = best && row.p50_ms ? Math.round((best.p50_ms! / row.p50_ms) * 100) / 100 : null;
    return { ...row, ratio, best_baseline: best ? best.impl : null };
  });
}

function notes(row: RowResult): string {
  const parts: string[] = [];
  const info = row.info;
  if (row.error) parts.push(`failed: ${row.error.slice(0, 160)}`);
  if (info.threads !== undefined) parts.push(`${info.threads} thr`);
  if (info.threadTrials)
    parts.push(
      `tried ${Object.entries(info.threadTrials as Record<string, number>)
        .map(([t, ms]) => `${t} thr ${ms} ms`)
        .join(', ')}`,
    );
  if (info.flavor) parts.push(String(info.flavor));
  if (info.variant) parts.push(String(info.variant));
  if (info.compaction) parts.push(`${String(info.compaction)} compaction`);
  if (row.learning === 'busy')
    parts.push(
      `learning busy (${row.learningBackend}, ${info.learningRuns ?? 0} runs and ${info.learningSteps ?? 0} steps during the calls; a 10-step warm-up run ${info.learningRunMs ?? '—'} ms)`,
    );
  if (row.learning === 'records') parts.push('learning off, an event recorded before each call');
  if (row.stage === 'recommend' && info.backend) {
    const b = info.backend as Record<string, string>;
    parts.push(
      `ranker ${b.ranker}${info.rankerVariant ? ` (${info.rankerVariant})` : ''}, encoder ${b.encoder}`,
    );
    if (info.modelThreads !== undefined) parts.push(`ORT ${info.modelThreads} thr`);
  }
  if (row.stages) {
    const st = row.stages;
    parts.push(
      `engine p50: total ${st.total} = encode ${st.encode} + retrieve ${st.retrieve} + rank ${st.rank} + rerank ${st.rerank} ms`,
    );
  }
  if (row.stages_p99) {
    const st = row.stages_p99;
    parts.push(
      `engine p99: total ${st.total}, encode ${st.encode}, retrieve ${st.retrieve}, rank ${st.rank}, rerank ${st.rerank} ms`,
    );
  }
  if (row.cold)
    parts.push(
      `cold start ${row.cold.cold_start_ms} ms = init ${row.cold.init_ms} + first recommend ${row.cold.first_recommend_ms}`,
    );
  if (row.load?.length) parts.push(`load ${Math.min(...row.load)}–${Math.max(...row.load)}`);
  if (info.truncated) parts.push(String(info.truncated));
  return parts.join('; ');
}

/**
 * recommend() with on-device learning running beside it against the same engine set-up without learning
 * (same catalog, dtype, device): what learning costs a request, p50 and p99; and, where the run has one,
 * the row that records the same events with learning off (what the events cost without learning).
 */
export function learningCost(rows: RowResult[]): string[][] {
  const ms = (x: number | null) => (x === null ? '—' : x.toFixed(2));
  const ratio = (busy: number | null, off: number | null) =>
    busy === null || off === null || off === 0 ? '—' : `${(busy / off).toFixed(2)}×`;
  return rows
    .filter((row) => row.stage === 'recommend' && row.learning === 'busy')
    .map((busy) => {
      const pair = (learning: 'off' | 'records') =>
        rows.find(
          (r) =>
            r.stage === 'recommend' &&
            r.learning === learning &&
            r.catalog === busy.catalog &&
            r.impl === busy.impl &&
            r.dtype === busy.dtype &&
            r.info.modelThreads === busy.info.modelThreads,
        );
      const off = pair('off');
      const records = pair('records');
      return [
        busy.catalog.toLocaleString('en'),
        busy.dtype,
        busy.impl,
        busy.learningBackend ?? '—',
        `${busy.info.learningRuns ?? 0} / ${busy.info.learningSteps ?? 0}`,
        ms(off?.p50_ms ?? null),
        ms(records?.p50_ms ?? null),
        ms(busy.p50_ms),
        ratio(busy.p50_ms, off?.p50_ms ?? null),
        ms(off?.p99_ms ?? null),
        ms(records?.p99_ms ?? null),
        ms(busy.p99_ms),
        ratio(busy.p99_ms, off?.p99_ms ?? null),
      ];
    });
}

function printTable(result: ReturnType<typeof withRatios>, header: string): void {
  const ms = (x: number | null) =>
    x === null ? '—' : x < 10 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(1);
  const rows = result.map((r) => [
    r.catalog.toLocaleString('en'),
    r.dtype,
    r.impl,
    r.stage,
    ms(r.p50_ms),
    ms(r.p99_ms),
    ms(r.max_ms),
    String(r.runs),
    r.recall_vs_f32 === undefined || r.recall_vs_f32 === null ? '—' : r.recall_vs_f32.toFixed(3),
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    notes(r),
  ]);
  process.stdout.write(`${header}\n\n`);
  process.stdout.write(
    formatTable(
      [
        'catalog',
        'dtype',
        'impl',
        'stage',
        'p50 ms',
        'p99 ms',
        'max ms',
        'runs',
        'recall vs f32',
        'vs best same-dtype peer',
        'notes',
      ],
      rows,
    ),
  );
  process.stdout.write(
    `\nvs best same-dtype peer: p50 of the fastest peer (tfjs-*, ort-*, naive-js) of that catalog, stage and dtype ÷ this row's p50 (> 1× = faster).\n` +
      `p50, p99: nearest rank, the ⌈q·runs⌉-th fastest call (with 100 runs p99 is the 99th of 100, max the 100th).\n` +
      `recall vs f32: |top-${K} ∩ exact f32 top-${K}| / ${K}, mean over the first ${RECALL_QUERIES} queries.\n` +
      `recommend() rows have no peer: no baseline runs the whole pipeline, so no ratio.\n`,
  );
  const learning = learningCost(result);
  if (learning.length === 0) return;
  process.stdout.write(
    '\nrecommend() while on-device learning runs (an event recorded before each timed call):\n\n',
  );
  process.stdout.write(
    formatTable(
      [
        'catalog',
        'dtype',
        'impl',
        'learning on',
        'runs / steps',
        'p50 off',
        'p50 records',
        'p50 busy',
        'p50 busy/off',
        'p99 off',
        'p99 records',
        'p99 busy',
        'p99 busy/off',
      ],
      learning,
    ),
  );
}

async function main(): Promise<void> {
  const opts = options();
  const started = performance.now();
  const loadNow = () => loadavg().map((x) => Math.round(x * 100) / 100);
  const loadStart = loadNow();
  log(`load average at start: ${loadStart.join(' ')} (shared machine: other processes make timings noisy)`);
  // The 1-minute load average every 5 s through the run (and before each turn of each row, per row).
  const loadSamples: number[] = [loadStart[0]];
  const sampler = setInterval(() => loadSamples.push(loadNow()[0]), 5000);
  sampler.unref();

  const base = await openBase(opts.base, log);
  log(`models from bundle ${base.version} (${base.folder})`);
  const artifacts: BenchArtifacts[] = [];
  for (const count of opts.catalogs) {
    const t = performance.now();
    const a = await prepareCatalog(base, count, K, log);
    log(`catalog ${count}: bundle ${a.version}${a.reused ? ' (reused)' : ''}, ${seconds(t)}`);
    artifacts.push(a);
  }

  const site = await startSite(opts.build, (line) => process.stderr.write(`${line}\n`));
  log(
    `page served by ${site.kind === 'build' ? 'a production build (vite build + preview)' : "Vite's dev server"}`,
  );
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    const { origin } = site;
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
    const page = await browser.newPage();
    await page.exposeFunction('benchLog', (line: string) => log(line));
    await page.exposeFunction('benchLoad', () => loadNow()[0]);
    page.on('console', (msg) => {
      const text = msg.text();
      if (text.startsWith('Failed to load resource')) return; // said with its URL below
      if (opts.verbose || msg.type() === 'error' || msg.type() === 'warning')
        log(`[page ${msg.type()}] ${text}`);
    });
    page.on('response', (response) => {
      const url = response.url();
      if (response.status() >= 400 && !url.endsWith('/favicon.ico'))
        log(`[page] HTTP ${response.status()} for ${url}`);
    });
    page.on('pageerror', (error) => log(`[page error] ${error.message}`));
    let loaded = 0;
    page.on('load', () => {
      if (++loaded > 1)
        log('[page] reloaded mid-run (Vite re-optimised dependencies?): results will be lost');
    });
    await page.goto(new URL(BENCH_PAGE, origin).href);
    await page.waitForFunction(() => typeof window.edgerecBench === 'function', undefined, {
      timeout: 120_000,
    });

    const config: BenchConfig = {
      catalogs: artifacts.map((a) => ({
        count: a.count,
        dim: a.dim,
        bundlesUrl: `/${a.bundlesPath}`,
        version: a.version,
        ortModelUrls: {
          gemm: `/${a.ortModelPaths.gemm}`,
          matmul: `/${a.ortModelPaths.matmul}`,
          int8: `/${a.ortModelPaths.int8}`,
        },
      })),
      k: K,
      runs: opts.runs,
      warmup: opts.warmup,
      recommendWarmup: opts.recommendWarmup,
      rounds: opts.rounds,
      feedK: FEED_K,
      maxRowSeconds: opts.maxRowSeconds,
      stages: opts.stages,
      impls: opts.impls,
      dtypes: opts.dtypes,
      learning: opts.learning,
      verbose: opts.verbose,
    };
    log(
      `running ${opts.catalogs.join(', ')} items × ${opts.stages.join(' + ')}, ${opts.runs} runs after ${opts.warmup} warm-up (recommend: ${opts.recommendWarmup})`,
    );
    // A Chrome trace of the timed part (every thread of the page's renderer, GC included): where a slow
    // call's time went. Each timed recommend() is marked with console.timeStamp('recommend N').
    if (opts.trace) await browser.startTracing(page, { path: opts.trace, categories: TRACE_CATEGORIES });
    const benchStarted = performance.now();
    const result: BenchResult = await page.evaluate((c) => window.edgerecBench(c), config);
    if (opts.trace) {
      await browser.stopTracing();
      log(`wrote the trace ${opts.trace}`);
    }
    const benchSeconds = (performance.now() - benchStarted) / 1000;
    const loadEnd = loadNow();
    clearInterval(sampler);
    loadSamples.push(loadEnd[0]);
    const device = { ...result.device, browser: `Chromium ${browser.version()}` };
    await scoreRecall(result.rows, artifacts);
    const rows = withRatios(result.rows);
    const total = (performance.now() - started) / 1000;
    log(
      `done in ${total.toFixed(0)} s (browser part ${benchSeconds.toFixed(0)} s); load average at end: ${loadEnd.join(' ')}`,
    );

    const json = `${JSON.stringify({
      device,
      rows: rows.map(({ catalog, dtype, impl, stage, p50_ms, p99_ms, runs, recall_vs_f32, ...rest }) => ({
        catalog,
        dtype,
        impl,
        stage,
        p50_ms,
        p99_ms,
        runs,
        recall_vs_f32: recall_vs_f32 ?? null,
        ...rest,
      })),
      k: K,
      dim: artifacts[0]?.dim,
      feedK: FEED_K,
      runs: opts.runs,
      warmup: opts.warmup,
      recommendWarmup: opts.recommendWarmup,
      rounds: opts.rounds,
      page: site.kind,
      models: base.version,
      catalogs: 'synthetic: seeded random unit rows around the real models of the bundle named in models',
      seconds: Math.round(total),
      load: {
        start: loadStart,
        end: loadEnd,
        max_1m: Math.max(...loadSamples),
        mean_1m: Math.round((loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length) * 100) / 100,
        samples_1m_every_5s: loadSamples,
      },
    })}\n`;
    if (opts.save) {
      writeFileSync(opts.save, json);
      log(`wrote ${opts.save}`);
    }
    if (opts.json) {
      process.stdout.write(json);
    } else {
      const gpu = device.webgpu as Record<string, unknown>;
      const adapter =
        'error' in gpu
          ? `no WebGPU (${gpu.error})`
          : `WebGPU ${gpu.vendor}/${gpu.architecture}${gpu.isFallbackAdapter ? ' (fallback adapter: software, do not read its rows as GPU numbers)' : ''}`;
      printTable(
        rows,
        `edgerec browser benchmark — ${device.browser}, ${adapter}, ${device.hardwareConcurrency} cores, ` +
          `crossOriginIsolated ${device.crossOriginIsolated}\n` +
          `k = ${K}, dim = ${artifacts[0]?.dim}, ${opts.runs} runs after ${opts.warmup} warm-up (recommend: ${opts.recommendWarmup}); recommend() = { k: ${FEED_K} } over ${K} candidates; ` +
          `models of bundle ${base.version}, synthetic catalogs; load average ${loadStart.join('/')} → ${loadEnd.join('/')} ` +
          `(1-min max ${Math.max(...loadSamples)}, mean ${(loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length).toFixed(2)}); ${total.toFixed(0)} s`,
      );
    }
  } finally {
    await browser?.close().catch(() => undefined);
    await site.close();
  }
}

/** recall_vs_f32 of every retrieve row from its answers (then dropped), against referenceTopK over f32. */
async function scoreRecall(rows: RowResult[], artifacts: BenchArtifacts[]): Promise<void> {
  for (const a of artifacts) {
    const mine = rows.filter((r) => r.catalog === a.count && r.stage === 'retrieve');
    if (mine.length === 0) continue;
    const queries = benchQueries(BENCH_QUERIES, a.dim).slice(0, RECALL_QUERIES);
    const exact = (await exactTopK(a, queries)).map((ids) => new Set(ids));
    for (const row of mine) {
      const answers = row.answers;
      delete row.answers;
      if (!answers || answers.length === 0) {
        row.recall_vs_f32 = null;
        continue;
      }
      let hit = 0;
      answers.forEach((ids, q) => {
        for (const i of ids) if (exact[q].has(i)) hit++;
      });
      row.recall_vs_f32 = Math.round((hit / (answers.length * a.k)) * 10000) / 10000;
    }
  }
  for (const row of rows) if (row.stage === 'recommend') row.recall_vs_f32 = null;
}

main().catch((error) => {
  process.stderr.write(
    `bench:browser: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
