/** Hostile inputs shared by the regression tests and the fuzzer. */
import type { Random } from '../../../src/core/random.ts';

/** Version names the registry and the CLI must refuse. */
export const HOSTILE_VERSIONS = [
  'latest.json',
  'LATEST.JSON',
  'manifest.json',
  '..',
  '.',
  'a..b',
  '.upload-x',
  '.hidden',
  '-rf',
  '_x',
  'a/b',
  'a\\b',
  'v 1',
  'v1\n',
  'x'.repeat(129),
  'é',
  '',
];

/** Strings no database can store: every request carrying one must be refused with 400. */
export const UNSTORABLE = [
  '\u0000',
  'a\u0000b',
  '\u0000\u0000\u0000',
  '\ud800',
  '\udfff',
  'x\udc00',
  '\ud83d', // the first half of 😀
  '\ude00\ud83d', // a pair in the wrong order
  `${'x'.repeat(100)}\u0000`,
];

/** Odd but valid strings: any answer but a 5xx is fine, and what is stored must read back the same. */
export const ODD = [
  '\u202eevil\u202c', // right-to-left override
  '\u2066isolate\u2069',
  '\u200f\u061c',
  '\ufeffbom',
  '\uffff\ufffe',
  '\u{10ffff}',
  '😀 𝄞',
  'e\u0301',
  '\u200b',
  'tab\tline\nfeed\r',
  '\\"\'',
  '%00',
  '%ED%A0%80',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '\u0024{jndi:ldap://x}',
  'x'.repeat(256),
  'x'.repeat(257),
  'é'.repeat(200),
  '😀'.repeat(128),
  'y'.repeat(70_000),
];

export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

/** Byte sequences that are not UTF-8: overlong forms, encoded surrogates, out-of-range and cut sequences. */
export const NOT_UTF8: readonly number[][] = [
  [0xc0, 0x80], // overlong NUL
  [0xc0, 0xaf], // overlong "/"
  [0xe0, 0x80, 0xaf],
  [0xf0, 0x80, 0x80, 0xaf],
  [0xed, 0xa0, 0x80], // U+D800 as UTF-8
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xff],
  [0xfe, 0xff],
  [0xe2, 0x82], // cut short
  [0x80],
];

export const pick = <T>(random: Random, values: readonly T[]): T => values[random.int(values.length)];

/** A hostile string, and whether no database can store it (so that 400 is the only right answer). */
export function hostileString(random: Random): { text: string; unstorable: boolean } {
  if (random.next() < 0.5) return { text: pick(random, UNSTORABLE), unstorable: true };
  return { text: pick(random, ODD), unstorable: false };
}

/**
 * A URL path segment for a string: percent-encoded UTF-8, with a lone surrogate written as its (invalid)
 * three UTF-8 bytes, which encodeURIComponent cannot express.
 */
export function pathSegment(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const paired =
      (code >= 0xd800 && code <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) ||
      (code >= 0xdc00 && code <= 0xdfff && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800);
    if (code >= 0xd800 && code <= 0xdfff && !paired)
      out +=
        `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
    else if (paired && code <= 0xdbff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i++;
    } else out += encodeURIComponent(text[i]);
  }
  return out;
}
