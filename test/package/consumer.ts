/**
 * The consumer side of the package test: the packed SDK installed once into a folder outside the repo
 * (os.tmpdir()), and each example of examples/ set up beside it as an app of its own, as a team would
 * write it — its index.html and main file importing `edgerec` / `edgerec/react` by name, a Vite config
 * with only what every consumer needs, and the browser tests' small bundle in public/models/. The apps
 * share the one install (Node and Vite resolve packages from the parent folder, as in a monorepo), so
 * `npm pack` and `npm install` run once for all of them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const log = (message: string) => process.stderr.write(`[package] ${message}\n`);

/**
 * This process's environment less what `npm run` sets for this repo, so that a child npm sees only its
 * app (and still prints its errors: `npm run -s` would silence the ENOTCACHED line that the install falls
 * back on), and less what Vitest sets: its NODE_ENV=test would make the apps' `vite build` keep
 * development code (React's development build: 107 kB brotli of page JS instead of 63 kB).
 */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env))
    if (
      /^npm_(package_|lifecycle_|command$|config_(local_prefix|call|loglevel)$)|^NODE_ENV$|^VITEST/.test(key)
    )
      delete env[key];
  return env;
}

/** Runs a command; a failure says what it printed. */
export async function sh(command: string, args: string[], cwd: string) {
  try {
    return await execFileAsync(command, args, { cwd, env: childEnv(), maxBuffer: 64 << 20 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}:\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`,
    );
  }
}

/** Runs `work`, logging how long it took. */
export async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await work();
  log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/** The packages an app installs beside the tarball, at the versions this repo's `npm ci` put in npm's cache. */
function cachedVersions(root: string, names: string[]): string[] {
  return names.map((name) => {
    const { version } = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
    return `${name}@${version}`;
  });
}

/** The install every example app shares. */
export interface ConsumerInstall {
  /** The folder holding node_modules (and the apps, one sub-folder each). */
  dir: string;
  /** The installed `vite` CLI. */
  vite: string;
}

/**
 * The library build (`npm run build` without its typecheck) and `npm pack` in the repo, then an install of the tarball, Vite, React and
 * @vitejs/plugin-react into `dir` from npm's cache (`--offline`: this repo's `npm ci` has put them there).
 */
export async function installConsumer(root: string, dir: string): Promise<ConsumerInstall> {
  // `npm run build` less its `tsc --noEmit`: npm test has typechecked the sources already, and this test
  // typechecks the consumer against the shipped .d.ts.
  await step('vite build (library)', () =>
    sh(
      process.execPath,
      [join(root, 'node_modules/vite/bin/vite.js'), 'build', '-c', 'vite.lib.config.ts'],
      root,
    ),
  );
  const packed = await step('npm pack', () => sh('npm', ['pack', '--json', '--pack-destination', dir], root));
  const [tarball] = JSON.parse(packed.stdout) as { filename: string; size: number; unpackedSize: number }[];
  log(
    `${tarball.filename}: ${(tarball.size / 1024).toFixed(0)} kB, ${(tarball.unpackedSize / 1024).toFixed(0)} kB unpacked`,
  );
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'consumers', private: true, type: 'module' })}\n`,
  );
  const packages = cachedVersions(root, [
    'vite',
    'react',
    'react-dom',
    '@vitejs/plugin-react',
    '@types/react',
    '@types/react-dom',
  ]);
  const install = ['install', '--no-audit', '--no-fund', `./${tarball.filename}`, ...packages];
  await step('npm install --offline', async () => {
    try {
      await sh('npm', [...install, '--offline'], dir);
    } catch (error) {
      // A cache that lacks a registry document (an npm ci from a lockfile with `resolved` URLs fetches
      // tarballs only): let npm ask the registry for what is missing, and only that.
      const line = String(error).match(/.*ENOTCACHED.*/)?.[0];
      if (!line) throw error;
      log(`${line}: installing with --prefer-offline`);
      await sh('npm', [...install, '--prefer-offline'], dir);
    }
  });
  return { dir, vite: join(dir, 'node_modules', 'vite', 'bin', 'vite.js') };
}

/** How one example becomes a consumer app. */
export interface ExampleSpec {
  /** The example's folder under examples/. */
  name: string;
  /** Its entry module (`main.ts`, `main.tsx`), the file the app's tsconfig checks. */
  main: string;
  /** @vitejs/plugin-react in the app's Vite config (JSX, fast refresh). */
  react?: boolean;
  /** Changes to the entry module the test needs (a URL parameter, say); each must apply. */
  edit?: (main: string) => string;
}

/** One example set up as an app in a sub-folder of the shared install. */
export interface ConsumerApp {
  name: string;
  dir: string;
  dist: string;
}

/** The consumer's whole Vite config: cross-origin isolation (threads), ES module workers, React's plugin. */
function viteConfig(react: boolean): string {
  return `import { defineConfig } from 'vite';
${react ? "import react from '@vitejs/plugin-react';\n" : ''}
const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  server: { headers },
  preview: { headers },
  worker: { format: 'es' },${react ? '\n  plugins: [react()],' : ''}
});
`;
}

function tsconfig(main: string, react: boolean) {
  return {
    compilerOptions: {
      target: 'ES2022',
      module: 'ESNext',
      moduleResolution: 'Bundler',
      lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      types: [],
      strict: true,
      noEmit: true,
      isolatedModules: true,
      skipLibCheck: false,
      ...(react ? { jsx: 'react-jsx' } : {}),
    },
    include: [main],
  };
}

/**
 * Copies the example into `<install>/<name>/` (no package.json of its own: the install's is the nearest,
 * so Vite's dev server allows the install's node_modules, as in a workspace), writes the consumer's Vite config and tsconfig, puts `bundleDir` in public/models/ (what a deployment
 * serves beside the app; `vite build` copies it into dist/) and builds the app with its own `vite build`.
 */
export async function buildExample(
  root: string,
  install: ConsumerInstall,
  spec: ExampleSpec,
  bundleDir: string,
  artifacts: string,
): Promise<ConsumerApp> {
  const example = join(root, 'examples', spec.name);
  const dir = join(install.dir, spec.name);
  mkdirSync(dir, { recursive: true });
  for (const file of ['index.html', 'style.css', 'favicon.svg'])
    if (existsSync(join(example, file))) cpSync(join(example, file), join(dir, file));
  const main = readFileSync(join(example, spec.main), 'utf8');
  const edited = spec.edit?.(main) ?? main;
  if (spec.edit && edited === main)
    throw new Error(`${spec.name}/${spec.main}: the test's edit did not apply`);
  writeFileSync(join(dir, spec.main), edited);
  writeFileSync(join(dir, 'vite.config.js'), viteConfig(spec.react ?? false));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    `${JSON.stringify(tsconfig(spec.main, spec.react ?? false), null, 2)}\n`,
  );
  cpSync(bundleDir, join(dir, 'public', 'models'), {
    recursive: true,
    filter: (source) => !source.endsWith('expected.json'),
  });
  const built = await step(`vite build (${spec.name})`, () =>
    sh(process.execPath, [install.vite, 'build'], dir),
  );
  writeFileSync(join(artifacts, `${spec.name}-build.log`), built.stdout + built.stderr);
  return { name: spec.name, dir, dist: join(dir, 'dist') };
}

/** Starts `vite <args>` in the app on a free port and resolves once it answers. */
export async function serveVite(
  vite: string,
  cwd: string,
  args: string[],
): Promise<{ url: string; server: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const server = spawn(
    process.execPath,
    [vite, ...args, '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    {
      cwd,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  server.stdout?.on('data', (chunk) => (output += chunk));
  server.stderr?.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null)
      throw new Error(`vite ${args.join(' ')} exited (${server.exitCode}):\n${output}`);
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, server };
    if (Date.now() > deadline) throw new Error(`vite ${args.join(' ')} did not answer in 30 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
