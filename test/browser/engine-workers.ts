/**
 * Chromium's own count of engine workers (its CDP target list), limited to the workers started after a
 * snapshot. The target list is browser-wide: an earlier test file's workers end asynchronously after its
 * frame goes, so an absolute count read before and after a test races them.
 */
import { cdp } from 'vitest/browser';

export interface EngineWorkerCount {
  dedicated: number;
  shared: number;
}

interface Target {
  targetId: string;
  type: string;
  url: string;
}

async function engineTargets(): Promise<Target[]> {
  const { targetInfos } = (await cdp().send('Target.getTargets')) as { targetInfos: Target[] };
  return targetInfos.filter((t) => t.url.includes('engine.worker'));
}

/** A counter of the engine workers alive now that were not alive when this was called. */
export async function engineWorkersStartedFromNow(): Promise<() => Promise<EngineWorkerCount>> {
  const earlier = new Set((await engineTargets()).map((t) => t.targetId));
  return async () => {
    const started = (await engineTargets()).filter((t) => !earlier.has(t.targetId));
    return {
      dedicated: started.filter((t) => t.type === 'worker').length,
      shared: started.filter((t) => t.type === 'shared_worker').length,
    };
  };
}

/** No engine worker started since the snapshot is alive. */
export const NONE: EngineWorkerCount = { dedicated: 0, shared: 0 };

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
