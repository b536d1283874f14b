/** A Web Lock this page holds until `release` (or until the page goes away, when the browser frees it). */
export interface PageLock {
  /** Undefined without Web Locks. */
  name?: string;
  release(): void;
}

/**
 * Takes a Web Lock of this connection's own and holds it until released: the browser releases it when
 * the page goes away, which tells whoever serves the engine (a shared worker, a leader tab) to drop a
 * connection that never disposed. Without Web Locks (rare) there is nothing to hold.
 */
export async function holdLock(): Promise<PageLock> {
  const locks = globalThis.navigator?.locks;
  if (!locks) return { release: () => {} };
  const name = `edgerec-connection:${crypto.randomUUID()}`;
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  await new Promise<void>((granted) => {
    void locks.request(name, () => {
      granted();
      return held;
    });
  });
  return { name, release };
}
