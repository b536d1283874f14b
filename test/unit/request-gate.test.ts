import { describe, expect, it } from 'vitest';
import type { Event } from '../../src/core/events.ts';
import { bundleLearningChoice } from '../../src/core/learning/index.ts';
import { DeviceLearner, type LearnerStorage } from '../../src/engine/learning/index.ts';
import { nextTask, RequestGate } from '../../src/engine/request-gate.ts';
import type { UserState } from '../../src/engine/storage/index.ts';
import { pinTable } from '../shared/pin-table.ts';

/** Lets `n` macrotasks run (the learner yields one between steps). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await nextTask();
}

/** A request the test holds in flight until it calls the returned function. */
function holdRequest(gate: RequestGate): { done: Promise<string>; finish: () => void } {
  let finish!: () => void;
  const released = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const done = gate.run(async () => {
    await released;
    return 'answered';
  });
  return { done, finish };
}

describe('RequestGate', () => {
  it('whenIdle waits for every request in flight, then one more macrotask; a throwing request still leaves', async () => {
    const gate = new RequestGate();
    let idle = 0;
    const watch = () => gate.whenIdle().then(() => idle++);
    await watch();
    expect(idle).toBe(1);
    const a = holdRequest(gate);
    const b = holdRequest(gate);
    expect(gate.busy).toBe(true);
    void watch();
    a.finish();
    expect(await a.done).toBe('answered');
    await turns(3);
    expect(idle).toBe(1); // b is still in flight
    const failing = gate.run(async () => {
      throw new Error('no bundle');
    });
    await expect(failing).rejects.toThrow('no bundle');
    b.finish();
    await b.done;
    await turns(2);
    expect(idle).toBe(2);
    expect(gate.busy).toBe(false);
  });

  it('a request that starts in the macrotask after the last one ended wins over the waiter', async () => {
    const gate = new RequestGate();
    const first = holdRequest(gate);
    let idle = false;
    void gate.whenIdle().then(() => {
      idle = true;
    });
    let second: ReturnType<typeof holdRequest> | undefined;
    // The next page's message, already queued when the first request ends.
    setTimeout(() => {
      second = holdRequest(gate);
    }, 0);
    first.finish();
    await first.done;
    await turns(4);
    expect(second).toBeDefined();
    expect(idle).toBe(false);
    second!.finish();
    await second!.done;
    await turns(2);
    expect(idle).toBe(true);
  });
});

// Eight pins in three dimensions, p0 … p7.
const table = pinTable();

/** The loaded model the learner reads: the pin table under version v1, ids p0, p1, …, no bundle choice. */
const pinModel = () => ({
  version: 'v1',
  table,
  index: new Map(Array.from({ length: table.count }, (_, i) => [`p${i}`, i])),
  learning: bundleLearningChoice(undefined),
  use: <T>(task: () => Promise<T>) => task(),
});

/** The three IndexedDB calls the learner makes, over arrays, counting its reads and writes. */
class MemoryStorage implements LearnerStorage {
  reads = 0;
  writes = 0;
  state?: UserState;
  constructor(private readonly events: Event[]) {}
  async recentEvents(_userId: string, limit: number): Promise<Event[]> {
    this.reads++;
    return this.events.slice(-limit);
  }
  async userState(): Promise<UserState | undefined> {
    this.reads++;
    return this.state;
  }
  async updateUserState(
    _userId: string,
    change: (current: UserState | undefined) => UserState,
  ): Promise<UserState> {
    this.writes++;
    this.state = change(this.state);
    return this.state;
  }
}

describe('DeviceLearner behind the gate', () => {
  it('starts no run and takes no step while a recommend() is in flight, and goes on after it', async () => {
    const actions = ['click', 'save', 'impression', 'hide', 'click'] as const;
    const storage = new MemoryStorage(
      actions.map((action, i) => ({ id: `e${i}`, userId: 'u', itemId: `p${i}`, action, ts: 1000 * i })),
    );
    const gate = new RequestGate();
    const steps = 60;
    const learner = new DeviceLearner({
      storage,
      userId: 'u',
      backends: ['cpu'],
      // tfjs's umbrella package, whose cpu backend loads in well under a second here (tfjs-core's
      // separate modules, the engine's own loading, take several seconds in this test runner).
      loadTf: () => import('@tensorflow/tfjs'),
      learning: { steps, sampled: 4 },
      whenIdle: () => gate.whenIdle(),
      model: pinModel,
    });
    // A first run with the engine idle loads tfjs and chooses the backend.
    expect(await learner.learnNow()).toMatchObject({ state: 'idle', runs: 1, steps });
    expect([storage.reads, storage.writes]).toEqual([2, 1]);
    // A request in flight before the next run: the run waits, before any read.
    const before = holdRequest(gate);
    const run = learner.learnNow();
    await turns(20);
    expect(learner.status()).toMatchObject({ state: 'learning', runSteps: 0, steps });
    expect(storage.reads).toBe(2);
    before.finish();
    await before.done;
    // The run reads and steps once the engine is idle...
    while ((learner.status().runSteps ?? 0) < 5) await nextTask();
    expect(storage.reads).toBe(4);
    // ...and stands still while the next request is in flight.
    const during = holdRequest(gate);
    const held = learner.status().runSteps!;
    await turns(30);
    expect(learner.status().runSteps).toBe(held);
    expect(storage.writes).toBe(1);
    during.finish();
    await during.done;
    const done = await run;
    expect(done).toMatchObject({ state: 'idle', runs: 2, steps: 2 * steps });
    expect(done.runSteps).toBeUndefined();
    expect(storage.writes).toBe(2);
    expect(storage.state?.learned?.steps).toBe(steps);
    await learner.dispose();
  });

  it('learnNow takes the place of the run an event scheduled: one run, no second one when the timer was due', async () => {
    const storage = new MemoryStorage(
      ['click', 'save'].map((action, i) => ({
        id: `e${i}`,
        userId: 'u',
        itemId: `p${i}`,
        action: action as 'click' | 'save',
        ts: 1000 * i,
      })),
    );
    // Timers the test fires by hand: what is still scheduled is what would run later.
    const scheduled = new Map<number, () => void>();
    let nextId = 0;
    const timers = {
      setTimeout: (callback: () => void) => {
        scheduled.set(++nextId, callback);
        return nextId;
      },
      clearTimeout: (id: unknown) => {
        scheduled.delete(id as number);
      },
    };
    const learner = new DeviceLearner({
      storage,
      userId: 'u',
      backends: ['cpu'],
      loadTf: () => import('@tensorflow/tfjs'),
      learning: { steps: 5, sampled: 4 },
      timers,
      model: pinModel,
    });
    learner.notifyRecorded();
    expect(scheduled.size).toBe(1);
    expect(await learner.learnNow()).toMatchObject({ state: 'idle', runs: 1 });
    expect(scheduled.size).toBe(0);
    await learner.dispose();
  });
});
