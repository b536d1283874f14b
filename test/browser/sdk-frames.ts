/**
 * Tabs for the one-engine-per-origin tests: same-origin iframes that each load the SDK through the dev
 * server, as a second tab's page would, and Chromium's own count of the engine workers alive.
 */
import { cdp } from 'vitest/browser';
import type { createRecommender, EdgerecError, InvalidRequestError } from '../../src/sdk/index.ts';

export interface SdkFrame {
  element: HTMLIFrameElement;
  /** The frame's own SDK: its classes, so `instanceof` is checked against what that page would see. */
  createRecommender: typeof createRecommender;
  InvalidRequestError: typeof InvalidRequestError;
  EdgerecError: typeof EdgerecError;
}

/**
 * Opens a frame (added to `frames`, for the caller's afterAll to remove) and resolves once its SDK is
 * loaded. `withoutSharedWorker`: the frame deletes `SharedWorker` first, as on Chrome Android.
 */
export async function openSdkFrame(
  frames: HTMLIFrameElement[],
  { withoutSharedWorker = false } = {},
): Promise<SdkFrame> {
  const element = document.createElement('iframe');
  const sdk = new URL('/src/sdk/index.ts', location.origin).href;
  // The dev server rewrites dynamic imports (the SDK loads src/sdk/tab-leader.ts so) through vitest's
  // runner, absent from a frame: the same no-op stand-in vitest itself puts in workers.
  element.srcdoc = `<!doctype html><script>
    ${withoutSharedWorker ? 'delete window.SharedWorker;' : ''}
    window.__vitest_browser_runner__ = { wrapDynamicImport: (load) => load() };
  </script><script type="module">
    import { createRecommender, EdgerecError, InvalidRequestError } from ${JSON.stringify(sdk)};
    window.edgerec = { createRecommender, EdgerecError, InvalidRequestError };
    parent.postMessage('edgerec-frame-ready', '*');
  </script>`;
  const ready = new Promise<void>((resolve) => {
    const onMessage = (event: MessageEvent) => {
      if (event.source !== element.contentWindow || event.data !== 'edgerec-frame-ready') return;
      removeEventListener('message', onMessage);
      resolve();
    };
    addEventListener('message', onMessage);
  });
  document.body.appendChild(element);
  frames.push(element);
  await ready;
  const { edgerec } = element.contentWindow as unknown as { edgerec: Omit<SdkFrame, 'element'> };
  return { element, ...edgerec };
}

/** Engine workers alive in the browser, dedicated and shared, from Chromium's own target list. */
export async function engineWorkers(): Promise<{ dedicated: number; shared: number }> {
  const { targetInfos } = (await cdp().send('Target.getTargets')) as {
    targetInfos: { type: string; url: string }[];
  };
  const engines = targetInfos.filter((t) => t.url.includes('engine.worker'));
  return {
    dedicated: engines.filter((t) => t.type === 'worker').length,
    shared: engines.filter((t) => t.type === 'shared_worker').length,
  };
}

/** `read()` again every `every` ms until `ok` holds or `ms` have passed; the last value either way. */
export async function eventually<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  ms = 10_000,
  every = 100,
): Promise<T> {
  const until = performance.now() + ms;
  let value = await read();
  while (!ok(value) && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, every));
    value = await read();
  }
  return value;
}
