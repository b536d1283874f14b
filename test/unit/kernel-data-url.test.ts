import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeDataUrl } from '../../src/engine/retrieval/cpu/kernel.ts';

// A consumer's Vite build inlines the 1.7 kB kernels as data: URLs; under a strict CSP they must load
// without fetch() (connect-src), so the loader decodes them itself.
describe('kernel bytes from a data: URL', () => {
  const wasm = readFileSync(new URL('../../src/engine/retrieval/cpu/kernel-simd.wasm', import.meta.url));

  it('decodes base64 to the same bytes, a valid module', () => {
    const bytes = decodeDataUrl(`data:application/wasm;base64,${wasm.toString('base64')}`);
    expect(Buffer.from(bytes).equals(wasm)).toBe(true);
    expect(WebAssembly.validate(bytes)).toBe(true);
  });

  it('decodes percent-encoding, and names what is not a data: URL', () => {
    expect(new TextDecoder().decode(decodeDataUrl('data:text/plain,a%20b%2Cc'))).toBe('a b,c');
    expect(() => decodeDataUrl('https://example.com/kernel.wasm')).toThrow(/not a data: URL/);
  });
});
