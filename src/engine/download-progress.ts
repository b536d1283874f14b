import type { ProgressEvent } from '../core/contract/types.ts';
import type { ByteProgress, PrefetchProgress } from './storage/index.ts';

/**
 * Turns the storage's prefetch callbacks — bytes while a file streams in, and each file once it is stored
 * or found cached — into `download` progress events: per file, and for the whole bundle as the sum of
 * every file's bytes so far (downloads run three at a time, so the sum is what only grows).
 */
export function downloadProgress(emit: (event: ProgressEvent) => void) {
  const loadedOf = new Map<string, number>();
  let bundleLoaded = 0;
  const report = (file: string, loaded: number, size: number, total: number, cached: boolean) => {
    const before = loadedOf.get(file) ?? 0;
    // A file fetched again (a cached copy that failed verification) does not move the sum backwards.
    if (loaded > before) {
      bundleLoaded += loaded - before;
      loadedOf.set(file, loaded);
    }
    emit({
      phase: 'download',
      file,
      loaded: bundleLoaded,
      total,
      fileLoaded: Math.max(loaded, before),
      fileTotal: size,
      cached,
    });
  };
  return {
    onBytes: (p: ByteProgress) => report(p.file, p.loaded, p.bytes, p.totalBytes, false),
    onFile: (p: PrefetchProgress) => report(p.file, p.fileBytes, p.fileBytes, p.totalBytes, p.fromCache),
  };
}
