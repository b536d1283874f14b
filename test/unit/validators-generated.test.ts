import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILE, generateValidators } from '../../scripts/gen-validators.ts';
import { equal, ucs2length } from '../../src/core/bundle/validator-runtime.ts';

describe('precompiled bundle validators (strict CSP: no code compiled at run time)', () => {
  it('validators.generated.ts is what scripts/gen-validators.ts makes of the current schemas', () => {
    // On failure: npm run gen:validators, and commit the file.
    expect(readFileSync(GENERATED_FILE, 'utf8') === generateValidators()).toBe(true);
  });

  it('the generated code neither requires ajv nor builds functions from strings', () => {
    const code = readFileSync(GENERATED_FILE, 'utf8');
    // Booleans: a failure should not print 150 kB of generated code.
    expect(code.match(/require\(|new Function|\beval\(/)?.[0]).toBeUndefined();
    expect(code.match(/^import (?!type)[^\n]*/gm)).toEqual([
      "import { equal, ucs2length } from './validator-runtime.ts';",
    ]);
  });

  it("ucs2length counts code points as ajv's runtime does", () => {
    expect(ucs2length('')).toBe(0);
    expect(ucs2length('abc')).toBe(3);
    expect(ucs2length('a😀b')).toBe(3);
    // A lone high surrogate is one code unit, counted once.
    expect(ucs2length('\ud83dx')).toBe(2);
  });

  it('equal compares JSON values deeply', () => {
    expect(equal('wasm', 'wasm')).toBe(true);
    expect(equal('wasm', 'webgpu')).toBe(false);
    expect(equal({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(equal({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] })).toBe(false);
    expect(equal({ a: 1 }, { b: 1 })).toBe(false);
    expect(equal([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(equal(null, {})).toBe(false);
    expect(equal(Number.NaN, Number.NaN)).toBe(true);
  });
});
