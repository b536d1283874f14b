import type { LiveResources } from '../core/contract/types.ts';

export type { LiveResources } from '../core/contract/types.ts';

const live: LiveResources = {
  modelStates: 0,
  gpuRetrievers: 0,
  gpuBuffers: 0,
  cpuRetrievers: 0,
  retrievalWorkers: 0,
  ortSessions: 0,
};

/** Counts `delta` more (or fewer) live resources of `kind`. */
export function track(kind: keyof LiveResources, delta: number): void {
  live[kind] += delta;
}

/** A copy of the counts now. */
export function liveResources(): LiveResources {
  return { ...live };
}
