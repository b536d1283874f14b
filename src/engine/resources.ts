/**
 * Live counts of what the engine holds that a leak would keep alive — model states, GPU retrievers and
 * their buffers, CPU retrievers and their helper workers, ORT sessions — for this realm (the engine's
 * worker). Each is counted up where it is created and down where it is freed, so a bundle swap that
 * frees everything of the old version shows here as counts back where they were; `status().resources`
 * reports them.
 */
export interface LiveResources {
  /** Loaded bundle versions (one, or two while a swap waits for the old one's last request). */
  modelStates: number;
  gpuRetrievers: number;
  gpuBuffers: number;
  cpuRetrievers: number;
  /** Helper workers of the multi-threaded CPU retrieval kernel. */
  retrievalWorkers: number;
  ortSessions: number;
}

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
