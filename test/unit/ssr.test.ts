/**
 * Server-side rendering from the sources: test/shared/ssr-guard.mjs in a fresh `node` (with tsx, for the
 * .ts sources) imports src/sdk and src/react with every browser global trapped, and renders a component
 * using `useRecommender` with react-dom/server. The package test runs the same guard against the installed
 * package (`edgerec`, `edgerec/react`), as a consumer's server resolves them.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectServerSafe, runSsrGuard, SSR_GUARD } from '../shared/ssr.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const source = (path: string) => pathToFileURL(join(ROOT, path)).href;
const run = (sdk: string, react: string) =>
  runSsrGuard(SSR_GUARD, [sdk, react], { cwd: ROOT, nodeArgs: ['--import', 'tsx'] });

describe('server-side rendering (SSR) with the sources', () => {
  it('importing the SDK and edgerec/react and rendering useRecommender touch no browser global', async () => {
    expectServerSafe(await run(source('src/sdk/index.ts'), source('src/react/index.ts')));
  });

  it('the guard hears a module that reads a browser global at import', async () => {
    const reads = `data:text/javascript,${encodeURIComponent('export const ok = typeof navigator;')}`;
    const report = await run(reads, source('src/react/index.ts'));
    expect(report.touched.filter((t) => t.phase === 'import').map((t) => t.name)).toEqual(['navigator']);
  });
});
