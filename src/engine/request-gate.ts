/** Lets the next macrotask run: a request whose message is already queued in the worker gets to enter. */
export const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * The engine's latency-sensitive requests in flight (recommend()), counted, so that background work — the
 * on-device learner — waits until none is running before each step and each IndexedDB read or write. The
 * worker has one thread and the machine may have two cores: work done beside a request is time that request
 * waits for (a step that has begun runs to its end; the gate only keeps the next one from starting).
 */
export class RequestGate {
  private inFlight = 0;
  private waiting: (() => void)[] = [];

  /** @param yieldTask how whenIdle() lets queued messages run before it answers (tests can count turns). */
  constructor(private readonly yieldTask: () => Promise<void> = nextTask) {}

  /** Whether a request is in flight now. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Runs `request` counted as in flight (until it settles, whether it resolves or throws). */
  async run<T>(request: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await request();
    } finally {
      if (--this.inFlight === 0) {
        const waiting = this.waiting;
        this.waiting = [];
        for (const resolve of waiting) resolve();
      }
    }
  }

  /**
   * Resolves when no request is in flight, after one macrotask without one: a request answered by a
   * microtask is often followed by the next one's message (a feed's next page), which must win over the
   * background work that was waiting.
   */
  async whenIdle(): Promise<void> {
    for (;;) {
      if (this.inFlight > 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
      await this.yieldTask();
      if (this.inFlight === 0) return;
    }
  }
}
