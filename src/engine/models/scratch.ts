import type { FeedAllocator } from '../../core/feed/index.ts';

/**
 * Feed arrays reused from one model run to the next: an early-fusion ranker that takes its sequence per
 * candidate (src/core/feed/sequence-feeds.ts) gets about 1 MB of feeds a request at 200 candidates, and
 * allocating them anew each time left it to the garbage collector — the tail of recommend(). One run
 * holds the arrays at a time (ORT copies its inputs when the run starts, and the holder lets go when the
 * run has ended); a run that overlaps it gets fresh ones.
 */
export class FeedScratch {
  private readonly arrays = new Map<string, Float32Array>();
  private held = false;

  async use<T>(run: (allocate: FeedAllocator) => Promise<T>): Promise<T> {
    if (this.held) return run((_name, length) => new Float32Array(length));
    this.held = true;
    try {
      return await run((name, length) => {
        let array = this.arrays.get(name);
        if (array?.length !== length) {
          array = new Float32Array(length);
          this.arrays.set(name, array);
        }
        return array;
      });
    } finally {
      this.held = false;
    }
  }
}
