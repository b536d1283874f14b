/**
 * The SDK as a library (`npm run build` → dist/): ESM only, for a consumer's bundler to finish.
 *
 *   dist/edgerec.js                 createRecommender and friends (src/sdk)
 *   dist/engine.worker.js           the engine's Web Worker (workers/engine.worker.ts)
 *   dist/retrieval-cpu.worker.js    the WASM retriever's helper threads (nested in the engine worker)
 *   dist/assets/*.wasm              the retrieval kernels, tfjs's wasm backend (on-device learning)
 *   dist/edgerec.d.ts               the public types, bundled into one file
 *   dist/react.js, dist/react.d.ts  `edgerec/react`: the React hooks (react is an optional peer dependency)
 *
 * Every `new URL('./x', import.meta.url)` in the sources (workers, wasm) is kept in that literal form in
 * the output, pointing at the emitted file: the form Vite and webpack 5 recognise as a worker or an asset,
 * so that the consumer's bundler bundles each in turn (test/package/ checks Vite's build and dev server).
 * Vite's own handling does not do this in library mode: it inlines every asset as a data: URL and rewrites
 * the worker reference into an expression that no bundler recognises.
 *
 * Dependencies: onnxruntime-web, comlink, idb and @petamoriken/float16 stay external, resolved by the
 * consumer's bundler from the package's `dependencies` (onnxruntime-web alone ships 27 MB of wasm, which
 * only the consumer's bundler can emit as a file; the others are ESM and deduplicate with the app's own).
 * ajv is not in the SDK at all: the bundle's validators are precompiled (src/core/bundle/
 * validators.generated.ts, `npm run gen:validators`), so nothing compiles code at run time (strict CSP)
 * and no CommonJS reaches a worker that Vite's dev server serves unbundled. The CLI and the server keep
 * ajv as an optional peer dependency.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import MagicString from 'magic-string';
import { defineConfig, type Plugin, type Rolldown } from 'vite';

/** What emitting needs of a hook's context (load and transform hooks get different context types). */
type PluginContext = Pick<Rolldown.PluginContext, 'emitFile'>;

const ROOT = dirname(fileURLToPath(import.meta.url));
const OUT = join(ROOT, 'dist');
const SOURCES = [join(ROOT, 'src'), join(ROOT, 'workers')];

/** The package's `dependencies`: what the SDK imports at run time, left for the consumer's bundler. */
const EXTERNAL = ['onnxruntime-web', 'comlink', 'idb', '@petamoriken/float16', 'react'];
/** Our own entries: `edgerec/react` imports the SDK from `./edgerec.js`, so both share one registry. */
const ENTRIES = { edgerec: 'src/sdk/index.ts', react: 'src/react/index.ts' };
const isExternal = (id: string) => EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`));

const NEW_URL = /new\s+URL\(\s*(['"])(\.{1,2}\/[^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g;
const PLACEHOLDER = /__EDGEREC_URL_(\d+)__/g;

/** The emitted name of a worker: `engine.worker` stays, `retrieval/cpu/worker.ts` becomes `retrieval-cpu.worker`. */
function workerName(file: string): string {
  const name = basename(file).replace(/\.[cm]?[jt]s$/, '');
  if (name !== 'worker') return name;
  const dir = dirname(file);
  return `${basename(dirname(dir))}-${basename(dir)}.worker`;
}

/**
 * Emits each `new URL('./relative', import.meta.url)` target of our sources — a chunk for a script (a
 * worker entry), an asset for anything else — and writes the reference back as the same literal form,
 * relative to the chunk it ends up in.
 */
function portableUrls(): Plugin {
  let refs: string[] = [];
  let byFile = new Map<string, number>();
  /** The placeholder index of `file`, emitted once: a chunk for a script (a worker entry), else an asset. */
  const emitOnce = (context: PluginContext, file: string): number => {
    let index = byFile.get(file);
    if (index === undefined) {
      const ref = /\.[cm]?[jt]s$/.test(file)
        ? context.emitFile({ type: 'chunk', id: file, fileName: `${workerName(file)}.js` })
        : context.emitFile({
            type: 'asset',
            name: basename(file),
            originalFileName: relative(ROOT, file),
            source: readFileSync(file),
          });
      index = refs.push(ref) - 1;
      byFile.set(file, index);
    }
    return index;
  };
  return {
    name: 'edgerec:portable-urls',
    enforce: 'pre',
    apply: 'build',
    buildStart() {
      refs = [];
      byFile = new Map();
    },
    // `import url from 'x.wasm?url'` (on-device learning's tfjs binaries): Vite's library mode would inline
    // the file as a data: URL (1.5 MB of base64 in the engine worker); emit it instead, as `new URL` does.
    load(id) {
      if (!id.endsWith('.wasm?url')) return null;
      const index = emitOnce(this, id.slice(0, -'?url'.length));
      return `export default new URL(__EDGEREC_URL_${index}__, import.meta.url).href;`;
    },
    transform(code, id) {
      if (!SOURCES.some((dir) => id.startsWith(dir)) || !code.includes('import.meta.url')) return null;
      const s = new MagicString(code);
      for (const match of code.matchAll(NEW_URL)) {
        const [whole, quote, url] = match;
        const file = resolve(dirname(id), url);
        const index = emitOnce(this, file);
        // An identifier, not a string: Vite's worker and asset plugins must leave it alone.
        const start = match.index + whole.indexOf(quote);
        s.overwrite(start, start + url.length + 2, `__EDGEREC_URL_${index}__`);
      }
      return s.hasChanged() ? { code: s.toString(), map: s.generateMap({ hires: 'boundary' }) } : null;
    },
    renderChunk(code, chunk) {
      if (!code.includes('__EDGEREC_URL_')) return null;
      const from = posix.dirname(chunk.fileName);
      const s = new MagicString(code);
      for (const match of code.matchAll(PLACEHOLDER)) {
        const target = posix.relative(from, this.getFileName(refs[Number(match[1])]));
        const literal = JSON.stringify(target.startsWith('.') ? target : `./${target}`);
        s.overwrite(match.index, match.index + match[0].length, literal);
      }
      return { code: s.toString(), map: s.generateMap({ hires: 'boundary' }) };
    },
  };
}

/** dist/edgerec.d.ts: the SDK's public types with everything they reach inlined (dts-bundle-generator). */
function bundledTypes(): Plugin {
  return {
    name: 'edgerec:bundled-types',
    apply: 'build',
    async closeBundle() {
      const { generateDtsBundle } = await import('dts-bundle-generator');
      const [sdk, react] = generateDtsBundle(
        Object.values(ENTRIES).map((entry) => ({
          filePath: join(ROOT, entry),
          output: { noBanner: true, exportReferencedTypes: false },
          // edgerec/react refers to the SDK's types by the package name, as the consumer imports them.
          libraries: { importedLibraries: ['react'] },
        })),
        { preferredConfigPath: join(ROOT, 'tsconfig.json') },
      );
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(OUT, 'edgerec.d.ts'), sdk);
      writeFileSync(join(OUT, 'react.d.ts'), react);
    },
  };
}

/** Prints every file under dist/ with its raw and brotli size, as idb's build does. */
function sizeReport(): Plugin {
  return {
    name: 'edgerec:size-report',
    apply: 'build',
    enforce: 'post',
    closeBundle: {
      order: 'post',
      handler() {
        const files: string[] = [];
        const walk = (dir: string) => {
          for (const name of readdirSync(dir)) {
            const path = join(dir, name);
            if (statSync(path).isDirectory()) walk(path);
            else if (!name.endsWith('.map')) files.push(path);
          }
        };
        walk(OUT);
        const kb = (n: number) => `${(n / 1024).toFixed(2)} kB`.padStart(10);
        let raw = 0;
        let brotli = 0;
        const rows = files.sort().map((path) => {
          const bytes = readFileSync(path);
          const compressed = brotliCompressSync(bytes, {
            params: { [constants.BROTLI_PARAM_QUALITY]: 11 },
          }).length;
          raw += bytes.length;
          brotli += compressed;
          return `  ${relative(ROOT, path).padEnd(36)}${kb(bytes.length)}  brotli${kb(compressed)}`;
        });
        const total = `  ${'total'.padEnd(36)}${kb(raw)}  brotli${kb(brotli)}`;
        process.stdout.write(`\nedgerec package build:\n${rows.join('\n')}\n${total}\n`);
      },
    },
  };
}

export default defineConfig({
  // A library build must not copy the app's public/ folder.
  publicDir: false,
  base: './',
  plugins: [portableUrls(), bundledTypes(), sizeReport()],
  worker: { format: 'es' },
  build: {
    outDir: OUT,
    emptyOutDir: true,
    target: 'es2022',
    // Unminified: the consumer's bundler minifies; readable stack traces and diffs for everyone else.
    minify: false,
    sourcemap: true,
    copyPublicDir: false,
    reportCompressedSize: false,
    lib: {
      entry: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(ROOT, file)])),
      formats: ['es'],
    },
    rolldownOptions: {
      external: isExternal,
      output: {
        entryFileNames: '[name].js',
        chunkFileNames: 'chunks/[name]-[hash].js',
        assetFileNames: 'assets/[name][extname]',
      },
    },
  },
});
