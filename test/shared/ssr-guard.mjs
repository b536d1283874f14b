/**
 * Server-side rendering with the SDK, in a fresh `node` process (no browser globals, no test framework):
 *
 *   node ssr-guard.mjs <the SDK's specifier> <edgerec/react's specifier>
 *
 * Every browser global an SSR import could reach is a getter on globalThis that records the access (a
 * getter fires on `typeof window` too). Then: import the SDK and `edgerec/react` (phase `import`), and
 * `renderToString` a StrictMode tree whose component calls `useRecommender` and `useRecommendations`
 * (phase `render`): it must render the loading state, and create no engine (effects never run on a
 * server). Last, the guard reads one global itself (phase `control`), so a trap that records nothing is
 * seen. Prints one JSON object on stdout. The package test runs it in the consumer app against the
 * installed package (`edgerec`, `edgerec/react`); a unit test runs it against the sources (with tsx).
 * React is imported before the traps are set: what React itself reads is React's business.
 */
import { createElement, StrictMode } from 'react';
import { renderToString } from 'react-dom/server';

/** Browser globals a module must not touch when imported or rendered on a server. */
const BROWSER_GLOBALS = [
  'window',
  'document',
  'navigator',
  'self',
  'location',
  'Worker',
  'SharedWorker',
  'indexedDB',
  'localStorage',
  'sessionStorage',
  'crossOriginIsolated',
  'caches',
  'BroadcastChannel',
];

const [sdkSpecifier, reactSpecifier] = process.argv.slice(2);
if (!sdkSpecifier || !reactSpecifier) throw new Error('usage: node ssr-guard.mjs <sdk> <sdk/react>');

/** @type {{ name: string; phase: string; stack: string }[]} */
const touched = [];
let phase = 'import';
for (const name of BROWSER_GLOBALS)
  Object.defineProperty(globalThis, name, {
    configurable: true,
    get() {
      const stack = (new Error().stack ?? '').split('\n').slice(2, 8).join('\n');
      touched.push({ name, phase, stack });
      return undefined;
    },
  });

const sdk = await import(sdkSpecifier);
const hooks = await import(reactSpecifier);

phase = 'render';
function Feed() {
  const rec = hooks.useRecommender({ bundleUrl: '/models/', userId: 'ssr-reader' });
  const { result, loading } = hooks.useRecommendations({ k: 12 }, rec.recommender);
  return createElement(
    'p',
    null,
    result ? `${result.items.length} recommendations` : `state: ${rec.state}, loading: ${loading}`,
  );
}
const html = renderToString(createElement(StrictMode, null, createElement(Feed)));
const engines = hooks.sharedRecommenderCount();

phase = 'control';
void globalThis.window;

process.stdout.write(
  JSON.stringify({
    sdkExports: Object.keys(sdk).sort(),
    reactExports: Object.keys(hooks).sort(),
    html,
    engines,
    touched,
  }),
);
