import { describe, expect, it } from 'vitest';
import {
  type CombineRule,
  combineEmbeddings,
  combineRuleName,
  parseCombineRule,
  validCombineRule,
} from '../../src/core/combine/index.ts';

// server (3, 4): unit (0.6, 0.8); device (0, 2): unit (0, 1).
const server = { vector: [3, 4], updatedAt: 10 };
const device = { vector: [0, 2], updatedAt: 20 };
const sum = (deviceWeight: number): CombineRule => ({ kind: 'sum', deviceWeight });
const close = (actual: Float32Array | undefined, expected: number[]) => {
  expect(actual).toBeDefined();
  expect(Array.from(actual ?? [])).toHaveLength(expected.length);
  for (const [i, x] of expected.entries()) expect(actual?.[i]).toBeCloseTo(x, 6);
};

describe('combineEmbeddings', () => {
  it('server and device serve their own vector as it is', () => {
    close(combineEmbeddings({ kind: 'server' }, server, device), [3, 4]);
    close(combineEmbeddings({ kind: 'device' }, server, device), [0, 2]);
  });

  it('sum: (1 − w)·ŝ + w·d̂ at unit length, by hand', () => {
    // w 0.5: 0.5·(0.6, 0.8) + 0.5·(0, 1) = (0.3, 0.9), norm √0.9 = 0.9486833.
    close(combineEmbeddings(sum(0.5), server, device), [0.3 / Math.sqrt(0.9), 0.9 / Math.sqrt(0.9)]);
    close(combineEmbeddings(sum(0.5), server, device), [0.31622777, 0.9486833]);
    // w 0.25: 0.75·(0.6, 0.8) + 0.25·(0, 1) = (0.45, 0.85), norm √0.925 = 0.9617692.
    close(combineEmbeddings(sum(0.25), server, device), [0.46788772, 0.88378792]);
    // The ends are the unit vectors of one side alone.
    close(combineEmbeddings(sum(0), server, device), [0.6, 0.8]);
    close(combineEmbeddings(sum(1), server, device), [0, 1]);
  });

  it('newest: the later updatedAt wins, a tie goes to the device', () => {
    close(combineEmbeddings({ kind: 'newest' }, server, device), [0, 2]);
    close(combineEmbeddings({ kind: 'newest' }, { ...server, updatedAt: 30 }, device), [3, 4]);
    close(combineEmbeddings({ kind: 'newest' }, { ...server, updatedAt: 20 }, device), [0, 2]);
  });

  it('one side missing (or zeros) serves the other as it is, whatever the rule; neither gives undefined', () => {
    const zeros = { vector: [0, 0], updatedAt: 50 };
    for (const rule of [{ kind: 'server' }, { kind: 'device' }, { kind: 'newest' }, sum(0.5)] as const) {
      close(combineEmbeddings(rule, undefined, device), [0, 2]);
      close(combineEmbeddings(rule, zeros, device), [0, 2]);
      close(combineEmbeddings(rule, server, undefined), [3, 4]);
      close(combineEmbeddings(rule, server, zeros), [3, 4]);
      expect(combineEmbeddings(rule, zeros, undefined)).toBeUndefined();
      expect(combineEmbeddings(rule, undefined, undefined)).toBeUndefined();
    }
  });

  it('opposite directions at w 0.5 cancel: the unit device vector is served', () => {
    close(
      combineEmbeddings(sum(0.5), { vector: [1, 0], updatedAt: 0 }, { vector: [-2, 0], updatedAt: 0 }),
      [-1, 0],
    );
  });

  it('refuses vectors of different lengths', () => {
    expect(() => combineEmbeddings(sum(0.5), server, { vector: [1, 2, 3], updatedAt: 0 })).toThrow(
      /2 numbers/,
    );
  });
});

describe('rule names', () => {
  it('parse and name round-trip; bad names and weights are refused', () => {
    expect(parseCombineRule('server')).toEqual({ kind: 'server' });
    expect(parseCombineRule('device')).toEqual({ kind: 'device' });
    expect(parseCombineRule('newest')).toEqual({ kind: 'newest' });
    expect(parseCombineRule('0.25')).toEqual({ kind: 'sum', deviceWeight: 0.25 });
    for (const name of ['server', 'device', 'newest', '0.75'])
      expect(combineRuleName(parseCombineRule(name))).toBe(name);
    for (const bad of ['', 'both', '1.5', '-0.1', 'NaN'])
      expect(() => parseCombineRule(bad)).toThrow(RangeError);
    expect(() => validCombineRule(sum(2))).toThrow(/\[0, 1\]/);
    expect(validCombineRule(sum(1))).toEqual(sum(1));
  });
});
