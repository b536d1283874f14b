/**
 * Tabs for the one-engine-per-origin tests: same-origin iframes that each load the SDK through the dev
 * server, as a second tab's page would.
 */
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
