/**
 * relayProgress at the worker boundary: the callback here stands in for a comlink proxy (a mock at that
 * boundary; the real proxies are exercised by test/browser/sdk-progress.test.ts and the lab's browser
 * tests), whose every call returns a promise of its delivery that settles later than the work's result.
 */
import { describe, expect, it } from 'vitest';
import { relayProgress } from '../../src/engine/progress-relay.ts';

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A listener whose reports are delivered `delayMs` after they are sent, in order, as on one port. */
function slowListener(delayMs: number) {
  const delivered: number[] = [];
  let queue: Promise<unknown> = Promise.resolve();
  const onProgress = (p: number) => {
    queue = queue.then(() => later(delayMs)).then(() => delivered.push(p));
    return queue;
  };
  return { delivered, onProgress };
}

/** Work that sends one report and answers `value`. */
const oneReport = (value: number) => async (report: (p: number) => void) => {
  report(1);
  return value;
};

describe('relayProgress (stand-in proxy at the worker boundary)', () => {
  it('answers only after the last report is delivered', async () => {
    const { delivered, onProgress } = slowListener(5);
    const result = await relayProgress(onProgress, async (report) => {
      for (let i = 1; i <= 4; i++) report(i);
      return 'done';
    });
    expect(result).toBe('done');
    expect(delivered).toEqual([1, 2, 3, 4]);
  });

  it('without the relay the same result overtakes the reports (what the relay is for)', async () => {
    const { delivered, onProgress } = slowListener(5);
    const work = async (report: (p: number) => void) => {
      for (let i = 1; i <= 4; i++) report(i);
      return 'done';
    };
    await work((p) => void onProgress(p));
    expect(delivered.length).toBeLessThan(4);
  });

  it('a listener that throws or rejects does not fail the work; no listener is fine', async () => {
    await expect(
      relayProgress(() => {
        throw new Error('page handler');
      }, oneReport(7)),
    ).resolves.toBe(7);
    await expect(relayProgress(() => Promise.reject(new Error('delivery')), oneReport(8))).resolves.toBe(8);
    await expect(relayProgress(undefined, oneReport(9))).resolves.toBe(9);
  });

  it('a failure too is answered only after the reports sent before it are delivered', async () => {
    const { delivered, onProgress } = slowListener(5);
    await expect(
      relayProgress(onProgress, async (report) => {
        report(1);
        report(2);
        throw new Error('no replay pack');
      }),
    ).rejects.toThrow('no replay pack');
    expect(delivered).toEqual([1, 2]);
  });
});
