/**
 * Runs test/shared/ssr-guard.mjs in a fresh `node` and checks its report: the SDK and `edgerec/react`
 * imported and a `useRecommender` component rendered with react-dom/server, touching no browser global.
 * The unit test runs it on the sources (with tsx), the package test on the installed package.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';

/** The guard script; the package test copies it into the consumer app, so that it resolves the app's react. */
export const SSR_GUARD = join(dirname(fileURLToPath(import.meta.url)), 'ssr-guard.mjs');

/** What the guard prints. */
export interface SsrReport {
  sdkExports: string[];
  reactExports: string[];
  /** `renderToString` of a StrictMode tree whose component calls both hooks. */
  html: string;
  /** `sharedRecommenderCount()` after the render. */
  engines: number;
  /** Each read of a trapped browser global: which, in which phase (`import`, `render`, `control`), from where. */
  touched: { name: string; phase: string; stack: string }[];
}

/** Runs `guard` with the two specifiers (the SDK's, edgerec/react's) in `cwd`; `nodeArgs` e.g. `--import tsx`. */
export async function runSsrGuard(
  guard: string,
  specifiers: [sdk: string, react: string],
  { cwd, nodeArgs = [] }: { cwd: string; nodeArgs?: string[] },
): Promise<SsrReport> {
  const { stdout } = await promisify(execFile)(process.execPath, [...nodeArgs, guard, ...specifiers], {
    cwd,
    maxBuffer: 16 << 20,
  });
  return JSON.parse(stdout) as SsrReport;
}

/** The report of an SDK that is safe on a server: its exports there, the loading state, no global touched. */
export function expectServerSafe(report: SsrReport): void {
  expect(report.sdkExports).toContain('createRecommender');
  expect(report.reactExports).toEqual(expect.arrayContaining(['useRecommender', 'useRecommendations']));
  // The loading state, and no engine: effects (which start the worker) never run on a server.
  expect(report.html).toBe('<p>state: loading, loading: false</p>');
  expect(report.engines).toBe(0);
  expect(report.touched.filter((t) => t.phase !== 'control')).toEqual([]);
  // The control: the traps record an access (the guard's own read of `window`).
  expect(report.touched.filter((t) => t.phase === 'control').map((t) => t.name)).toEqual(['window']);
}
