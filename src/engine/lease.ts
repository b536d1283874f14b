/**
 * Reference counting for something requests use while it may be replaced: each request holds it through
 * `use`, a replacement `retire`s it, and it is freed once — when retired and no request holds it any more.
 * The engine wraps each loaded bundle version in one, so a bundle swap never frees GPU buffers, retrieval
 * workers or ORT sessions under a request still running on them.
 */
export class Lease {
  private holders = 0;
  private retired?: { done: Promise<void>; resolve: () => void };
  private freed = false;

  constructor(private readonly free: () => Promise<void>) {}

  /** Requests holding it now. */
  get users(): number {
    return this.holders;
  }

  /** Runs `body` holding the lease; a lease already retired refuses new holders. */
  async use<T>(body: () => Promise<T>): Promise<T> {
    if (this.retired) throw new Error('edgerec: a retired bundle version was asked to serve a new request');
    this.holders++;
    try {
      return await body();
    } finally {
      this.holders--;
      if (this.retired && this.holders === 0) this.freeOnce();
    }
  }

  /** No new holders from now on; resolves once the last holder is done and the resource is freed. */
  retire(): Promise<void> {
    if (!this.retired) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => {
        resolve = r;
      });
      this.retired = { done, resolve };
      if (this.holders === 0) this.freeOnce();
    }
    return this.retired.done;
  }

  private freeOnce(): void {
    if (this.freed) return;
    this.freed = true;
    const { resolve } = this.retired!;
    this.free().then(resolve, (error) => {
      console.warn(`edgerec: freeing a retired bundle version failed: ${(error as Error)?.message}`);
      resolve();
    });
  }
}
