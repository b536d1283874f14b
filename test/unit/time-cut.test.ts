import { describe, expect, it } from 'vitest';
import { timeCutAfter } from '../../src/train/tf/time-cut.ts';

describe('timeCutAfter (the explicit wall-clock cap of the encoder and ranker loops)', () => {
  const twoSecondsAgo = () => performance.now() - 2000;

  it('never cuts without a budget, however long the run took', () => {
    expect(timeCutAfter(0, 10, twoSecondsAgo(), undefined)).toBeUndefined();
  });

  it('cuts after an epoch once the budget is spent, saying after which epoch and when', () => {
    const cut = timeCutAfter(3, 10, twoSecondsAgo(), 1);
    expect(cut?.afterEpoch).toBe(3);
    expect(cut?.seconds).toBeGreaterThanOrEqual(2);
    expect(timeCutAfter(3, 10, twoSecondsAgo(), 60)).toBeUndefined();
  });

  it('does not report the last epoch as cut: the run ended on its own', () => {
    expect(timeCutAfter(9, 10, twoSecondsAgo(), 1)).toBeUndefined();
  });
});
