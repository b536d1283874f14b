import { afterEach, describe, expect, it } from 'vitest';
import { defaultOrtThreads, requestOrtThreads, wasmThreads } from '../../src/engine/onnx-runtime.ts';

describe('modelThreads: the ORT wasm thread count the engine asks for', () => {
  const isolated = Object.getOwnPropertyDescriptor(globalThis, 'crossOriginIsolated');
  afterEach(() => {
    if (isolated) Object.defineProperty(globalThis, 'crossOriginIsolated', isolated);
    else delete (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  });

  it('refuses a count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => requestOrtThreads(bad)).toThrow(RangeError);
  });

  it('defaults to one thread fewer than the cores, from 1 to 4', () => {
    expect([1, 2, 3, 4, 8, 16].map(defaultOrtThreads)).toEqual([1, 1, 2, 3, 4, 4]);
  });

  it('is used where cross-origin isolated, and is 1 where not (no SharedArrayBuffer)', () => {
    expect(requestOrtThreads(3)).toBe(true);
    Object.defineProperty(globalThis, 'crossOriginIsolated', { value: true, configurable: true });
    expect(wasmThreads()).toBe(3);
    Object.defineProperty(globalThis, 'crossOriginIsolated', { value: false, configurable: true });
    expect(wasmThreads()).toBe(1);
  });
});
