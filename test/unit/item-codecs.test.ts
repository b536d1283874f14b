import { describe, expect, it } from 'vitest';
import {
  decodeF16,
  decodeItemTable,
  dequantizeRowsI8,
  encodeF16,
  quantizeRowsI8,
} from '../../src/core/quantize/index.ts';
import { Random } from '../../src/core/random.ts';

const f16 = (x: number) => decodeF16(encodeF16(new Float32Array([x])))[0];
const bits = (x: number) => encodeF16(new Float32Array([x]))[0];

describe('encodeF16 / decodeF16', () => {
  it('encodes the IEEE half-precision bit patterns', () => {
    expect([1, -2, 0.5, 65504, Infinity, -Infinity].map(bits)).toEqual([
      0x3c00, 0xc000, 0x3800, 0x7bff, 0x7c00, 0xfc00,
    ]);
    expect(bits(0)).toBe(0x0000);
    expect(bits(-0)).toBe(0x8000);
    expect(bits(2 ** -24)).toBe(0x0001); // the smallest subnormal
    expect(Number.isNaN(f16(Number.NaN))).toBe(true);
  });

  it('rounds to nearest, ties to even', () => {
    expect(f16(1 / 3)).toBe(0.333251953125);
    expect(f16(1 + 2 ** -11)).toBe(1); // halfway between 1 and 1 + 2^-10: the even one is 1
    expect(f16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // halfway again: the even one is above
    expect(f16(1 + 2 ** -11 + 2 ** -20)).toBe(1 + 2 ** -10); // just past halfway rounds up
    expect(f16(2 ** -25)).toBe(0); // halfway between 0 and the smallest subnormal
    expect(f16(3 * 2 ** -25)).toBe(2 ** -23);
  });

  it('overflows to infinity from 65520, the midpoint past the largest half', () => {
    expect(f16(65519)).toBe(65504);
    expect(f16(65520)).toBe(Infinity);
    expect(f16(-65520)).toBe(-Infinity);
    expect(f16(1e6)).toBe(Infinity);
  });

  it('decodes every one of the 65,536 patterns to a value that encodes back to it', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const values = decodeF16(all);
    const back = encodeF16(values);
    for (let i = 0; i < 65536; i++) {
      const nan = (i & 0x7c00) === 0x7c00 && (i & 0x03ff) !== 0;
      if (nan) expect(Number.isNaN(values[i])).toBe(true);
      else if (back[i] !== i)
        throw new Error(`0x${i.toString(16)} → ${values[i]} → 0x${back[i].toString(16)}`);
    }
    expect(values[0x3555]).toBe(0.333251953125);
  });
});

describe('quantizeRowsI8 / dequantizeRowsI8', () => {
  it('quantizes a row by hand: [0.5, -1, 0.25] → scale 1/127, values [64, -127, 32]', () => {
    const { values, scales } = quantizeRowsI8(new Float32Array([0.5, -1, 0.25]), 3);
    expect(scales[0]).toBe(Math.fround(1 / 127));
    expect(Array.from(values)).toEqual([64, -127, 32]);
    const back = dequantizeRowsI8(values, scales, 3);
    expect(Array.from(back)).toEqual([64, -127, 32].map((q) => Math.fround(q * Math.fround(1 / 127))));
  });

  it('gives an all-zero row a scale of 0 and zeros, and keeps the rows apart', () => {
    const { values, scales } = quantizeRowsI8(new Float32Array([0, 0, 0, 2, -4, 1]), 3);
    expect(Array.from(scales)).toEqual([0, Math.fround(4 / 127)]);
    expect(Array.from(values)).toEqual([0, 0, 0, 64, -127, 32]);
    expect(Array.from(dequantizeRowsI8(values, scales, 3).subarray(0, 3))).toEqual([0, 0, 0]);
  });

  it('is symmetric: quantizing −x gives the negated values, and never −128', () => {
    const random = new Random(7);
    const table = Float32Array.from({ length: 64 * 16 }, () => random.normal());
    const negated = table.map((x) => -x);
    const a = quantizeRowsI8(table, 16);
    const b = quantizeRowsI8(negated, 16);
    expect(b.scales).toEqual(a.scales);
    for (let i = 0; i < table.length; i++) expect(b.values[i]).toBe(-a.values[i] || 0);
    expect(Math.min(...a.values, ...b.values)).toBe(-127);
  });

  it('errs by at most half a step, 0.5/127 of the row maximum', () => {
    const random = new Random(3);
    const dim = 32;
    const rows = 200;
    // Rows of very different magnitudes: the per-row scale is what keeps small rows precise.
    const table = Float32Array.from(
      { length: rows * dim },
      (_, i) => random.normal() * 10 ** (((i / dim) % 5) - 2),
    );
    const { values, scales } = quantizeRowsI8(table, dim);
    const back = dequantizeRowsI8(values, scales, dim);
    let worst = 0;
    for (let r = 0; r < rows; r++) {
      const row = table.subarray(r * dim, (r + 1) * dim);
      const max = Math.max(...row.map(Math.abs));
      for (let c = 0; c < dim; c++) {
        const error = Math.abs(back[r * dim + c] - row[c]) / max;
        worst = Math.max(worst, error);
      }
    }
    // Float32 rounding of the scale and of the product adds a few parts in 10^7.
    expect(worst).toBeLessThanOrEqual((0.5 / 127) * (1 + 1e-5));
    expect(worst).toBeGreaterThan(0.3 / 127);
  });

  it('refuses non-finite values and tables that do not split into rows', () => {
    expect(() => quantizeRowsI8(new Float32Array([1, Number.NaN]), 2)).toThrow('row 0, column 1 is NaN');
    expect(() => quantizeRowsI8(new Float32Array(5), 2)).toThrow('does not split into rows of 2');
    expect(() => dequantizeRowsI8(new Int8Array(6), new Float32Array(3), 3)).toThrow(
      '2 rows of 3 but 3 scales',
    );
  });
});

describe('decodeItemTable', () => {
  const table = new Float32Array([0.5, -1, 0.25, 1 / 3, 2, -0.125]);

  it('returns an f32 table as it is', () => {
    expect(decodeItemTable({ dtype: 'f32', count: 2, dim: 3, values: table })).toBe(table);
  });

  it('decodes f16 and i8 tables to float32', () => {
    const half = decodeItemTable({ dtype: 'f16', count: 2, dim: 3, values: encodeF16(table) });
    expect(Array.from(half)).toEqual([0.5, -1, 0.25, 0.333251953125, 2, -0.125]);
    const { values, scales } = quantizeRowsI8(table, 3);
    const int8 = decodeItemTable({ dtype: 'i8', count: 2, dim: 3, values, scales });
    expect(int8).toEqual(dequantizeRowsI8(values, scales, 3));
  });

  it('refuses a table whose values do not match its dtype or its size', () => {
    expect(() => decodeItemTable({ dtype: 'f16', count: 2, dim: 3, values: table })).toThrow(
      'an f16 table cannot hold a Float32Array',
    );
    expect(() => decodeItemTable({ dtype: 'i8', count: 2, dim: 3, values: new Int8Array(6) })).toThrow(
      'an i8 table needs its scales',
    );
    expect(() => decodeItemTable({ dtype: 'f32', count: 3, dim: 3, values: table })).toThrow(
      '6 values for 3 × 3',
    );
  });
});

describe('quantizeTableI8 (per-row and per-dimension scales)', () => {
  it('divides each column by its RMS before the per-row int8 step (hand-computed)', async () => {
    const { quantizeTableI8, dequantizeTableI8 } = await import('../../src/core/quantize/index.ts');
    const table = Float32Array.from([1, 0.1, -2, 0.2]);
    const { values, scales, columnScales } = quantizeTableI8(table, 2);
    expect(columnScales[0]).toBeCloseTo(Math.sqrt(2.5), 6);
    expect(columnScales[1]).toBeCloseTo(Math.sqrt(0.025), 6);
    // Scaled rows are [0.632, 0.632] and [-1.265, 1.265]: every value lands on ±127.
    expect(Array.from(values)).toEqual([127, 127, -127, 127]);
    expect(scales[0]).toBeCloseTo(1 / Math.sqrt(2.5) / 127, 8);
    const back = dequantizeTableI8(values, scales, columnScales, 2);
    for (let i = 0; i < 4; i++) expect(back[i]).toBeCloseTo(table[i], 6);
  });
});
