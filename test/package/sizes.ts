/**
 * What a consumer app ships because of edgerec, read from its `vite build` output: the JS the page loads
 * (the entry and its static imports), the JS only workers load (the engine worker, the retrieval helper
 * threads, ONNX Runtime, imported by the engine worker when it first builds a model session) and the WASM,
 * each raw and brotli-compressed (quality 11, as a CDN serves it). The bundle's model files are data,
 * not code, and are left out.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants } from 'node:zlib';

const brotli = promisify(brotliCompress);

export type SizeKind = 'page JS' | 'worker JS' | 'WASM';

/**
 * Brotli bytes past which the package test fails: the sizes measured when the budget was set (page JS
 * 2.3 kB, worker JS 70.6 kB, WASM 4214 kB, ONNX Runtime 1.30) plus about 10%. Raise one only knowingly.
 * Raised: page JS to 5 kB for issue 16's typed errors (the classes the page rebuilds from the worker's
 * errors, the wire format), cancellation and cache control (measured 4.2 kB). Raised: worker JS to 80 kB
 * for issue 16's shared engine (src/engine/shared-host.ts in the same engine worker): measured 78.0 kB,
 * exactly the old budget, with page JS 4.5 kB. Raised, knowingly and as a regression to undo: worker JS to
 * 500 kB for issue 15's on-device learning, whose tfjs (core and the cpu, wasm and webgpu backends) is
 * bundled into the engine worker's own chunk (measured 487.4 kB, the engine worker 357 kB of it) instead of
 * a chunk loaded when learning first runs; splitting it out should bring this back under 100 kB.
 * Raised: page JS to 6 kB for issue 16's leader election (one engine per origin without SharedWorker):
 * measured 5.4 kB. The election client itself (src/sdk/tab-leader.ts and its helpers, 2.0 kB) is a chunk
 * the page imports only where SharedWorker is missing, so it is counted with the lazily loaded JS (worker
 * JS, 489.7 kB); what the page gains up front is the import and Vite's preload helper for it.
 */
export const BUDGET: Readonly<Record<SizeKind, number>> = {
  'page JS': 6 * 1024,
  'worker JS': 500 * 1024,
  WASM: 4_650 * 1024,
};

export interface SizeRow {
  file: string;
  kind: SizeKind | 'other';
  raw: number;
  brotli: number;
  /** ONNX Runtime's own file (its JS or its WASM). */
  ort: boolean;
}

export interface AppSizes {
  rows: SizeRow[];
  page: SizeRow[];
  totals: Record<SizeKind, { raw: number; brotli: number }>;
}

const STATIC_IMPORT = /(?:\bimport|\bfrom)\s*["'](\.{0,2}\/[^"']+\.js)["']/g;
const HTML_SCRIPT = /<(?:script|link)[^>]+(?:src|href)="([^"]+\.js)"/g;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** The JS files the page loads before any dynamic import or worker: the entry and its static imports. */
function pageScripts(dist: string): Set<string> {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const queue = [...html.matchAll(HTML_SCRIPT)].map((m) => posix.normalize(m[1].replace(/^\.?\//, '')));
  const seen = new Set<string>();
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(join(dist, file), 'utf8');
    for (const [, specifier] of code.matchAll(STATIC_IMPORT))
      queue.push(posix.join(posix.dirname(file), specifier));
  }
  return seen;
}

/**
 * Brotli at quality 11 takes minutes for ONNX Runtime's 28 MB of WASM on a busy machine: it runs on libuv's
 * thread pool (async), so the package test starts it early and awaits it last.
 */
export async function measureApp(dist: string): Promise<AppSizes> {
  const page = pageScripts(dist);
  const names = files(dist)
    .map((path) => relative(dist, path).split('\\').join('/'))
    .filter((file) => !file.startsWith('models/') && !file.endsWith('.map'))
    .sort();
  const rows = await Promise.all(
    names.map(async (file): Promise<SizeRow> => {
      const bytes = readFileSync(join(dist, file));
      const kind: SizeRow['kind'] = file.endsWith('.wasm')
        ? 'WASM'
        : file.endsWith('.js')
          ? page.has(file)
            ? 'page JS'
            : 'worker JS'
          : 'other';
      return {
        file,
        kind,
        raw: bytes.length,
        brotli: (await brotli(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } })).length,
        ort: /(^|\/)ort[.-]/.test(file),
      };
    }),
  );
  const totals = Object.fromEntries(
    (['page JS', 'worker JS', 'WASM'] as const).map((kind) => {
      const of = rows.filter((row) => row.kind === kind);
      return [
        kind,
        { raw: of.reduce((n, row) => n + row.raw, 0), brotli: of.reduce((n, row) => n + row.brotli, 0) },
      ];
    }),
  ) as AppSizes['totals'];
  return { rows, page: rows.filter((row) => row.kind === 'page JS'), totals };
}

/** A Markdown table: every file, then the totals against the budget. */
export function formatSizes({ rows, totals }: AppSizes): string {
  const kb = (n: number) => (n / 1024).toFixed(1);
  const lines = [
    '| file | kind | raw kB | brotli kB |',
    '|---|---|--:|--:|',
    ...rows.map(
      (row) =>
        `| ${row.file} | ${row.kind}${row.ort ? ' (ONNX Runtime)' : ''} | ${kb(row.raw)} | ${kb(row.brotli)} |`,
    ),
    ...Object.entries(totals).map(
      ([kind, total]) =>
        `| **${kind}** | total (budget ${kb(BUDGET[kind as SizeKind])}) | ${kb(total.raw)} | **${kb(total.brotli)}** |`,
    ),
  ];
  return lines.join('\n');
}
